package haproxy

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const v26 = "2.6.12-1+deb12u4"

func worker(pid, reloads int, up time.Duration) Proc {
	return Proc{PID: pid, Type: "worker", Reloads: reloads, Uptime: up, Version: v26}
}

func master(pid, reloads, failed int, up time.Duration) Proc {
	return Proc{PID: pid, Type: "master", Reloads: reloads, FailedReloads: failed, Uptime: up, Version: v26}
}

// TestParseShowProcFixtures parses answers captured from HAProxy 2.6.12.
func TestParseShowProcFixtures(t *testing.T) {
	s := time.Second
	tests := []struct {
		file string
		want Procs
	}{
		{"showproc-start.txt", Procs{
			Master:  master(28495, 0, 0, 2*s),
			Workers: []Proc{worker(28497, 0, 2*s)},
		}},
		{"showproc-reload-ok-old-worker.txt", Procs{
			Master:     master(28495, 1, 0, 2*s),
			Workers:    []Proc{worker(28501, 0, 0)},
			OldWorkers: []Proc{worker(28497, 1, 2*s)},
		}},
		{"showproc-reload-failed.txt", Procs{
			Master:     master(28495, 2, 1, 3*s),
			Workers:    []Proc{worker(28501, 1, 1*s)},
			OldWorkers: []Proc{worker(28497, 2, 3*s)},
		}},
		{"showproc-reload-failed-twice.txt", Procs{
			Master:     master(28495, 3, 2, 3*s),
			Workers:    []Proc{worker(28501, 2, 1*s)},
			OldWorkers: []Proc{worker(28497, 3, 3*s)},
		}},
		{"showproc-reload-recovered.txt", Procs{
			Master:  master(28495, 4, 0, 4*s),
			Workers: []Proc{worker(28509, 0, 0)},
		}},
		{"showproc-programs.txt", Procs{
			Master:   master(28512, 0, 0, 1*s),
			Workers:  []Proc{worker(28515, 0, 1*s)},
			Programs: []Proc{{PID: 28514, Type: "sleeper", Uptime: 1 * s, Version: "-"}},
		}},
		{"showproc-programs-reloaded.txt", Procs{
			Master:   master(28512, 1, 0, 2*s),
			Workers:  []Proc{worker(28656, 0, 0)},
			Programs: []Proc{{PID: 28655, Type: "sleeper", Version: "-"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseShowProc(string(raw))
			if err != nil {
				t.Fatalf("ParseShowProc: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseShowProc =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// TestParseShowProcColumnsFromHeader checks that fields are read by the
// header's column names: the layout of HAProxy before 2.5, with a
// "<relative PID>" column, written here after that version's source.
func TestParseShowProcColumnsFromHeader(t *testing.T) {
	out := "#<PID>          <type>          <relative PID>  <reloads>       <uptime>        <version>      \n" +
		"100             master          0               3 [failed: 1]   1d02h03m04s     2.4.22\n" +
		"# workers\n" +
		"201             worker          1               0               0d00h00m05s     2.4.22\n" +
		"202             worker          2               0               0d00h00m05s     2.4.22\n" +
		"# old workers\n" +
		"150             worker          1               2               0d01h00m00s     2.4.22\n" +
		"# programs\n\n"
	got, err := ParseShowProc(out)
	if err != nil {
		t.Fatal(err)
	}
	wantUp := 26*time.Hour + 3*time.Minute + 4*time.Second
	if got.Master.PID != 100 || got.Master.Reloads != 3 || got.Master.FailedReloads != 1 || got.Master.Uptime != wantUp {
		t.Errorf("master = %+v", got.Master)
	}
	if len(got.Workers) != 2 || got.Workers[1].RelativePID != 2 || got.Workers[1].PID != 202 {
		t.Errorf("workers = %+v", got.Workers)
	}
	if cur, ok := got.Current(); !ok || cur.PID != 201 {
		t.Errorf("Current() = %+v, %v; want PID 201", cur, ok)
	}
	if len(got.OldWorkers) != 1 || got.OldWorkers[0].Reloads != 2 {
		t.Errorf("old workers = %+v", got.OldWorkers)
	}
}

func TestParseShowProcRejects(t *testing.T) {
	header := "#<PID>          <type>          <reloads>       <uptime>        <version>\n"
	tests := map[string]struct{ out, want string }{
		"empty":          {"", "no \"#<PID>\" header"},
		"unknown cmd":    {"Unknown command, but maybe one of the following ones is a better match:\n", "no \"#<PID>\" header"},
		"no master":      {header + "# workers\n12 worker 0 0d00h00m01s 2.6\n", "want one master line"},
		"missing column": {header + "11 master 0 [failed: 0] 2.6\n# workers\n", "4 fields for 5 columns"},
		"bad pid":        {header + "x master 0 [failed: 0] 0d00h00m01s 2.6\n", "column PID"},
		"worker first":   {header + "12 worker 0 0d00h00m01s 2.6\n# workers\n", "want one master line"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ParseShowProc(tt.out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseShowProc error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseShowProcUnknownSectionSkipped(t *testing.T) {
	out := "#<PID> <type> <reloads> <uptime> <version>\n" +
		"11 master 0 [failed: 0] 0d00h00m01s 3.4\n" +
		"# workers\n12 worker 0 0d00h00m01s 3.4\n" +
		"# something new\nnot a process line at all\n"
	got, err := ParseShowProc(out)
	if err != nil {
		t.Fatal(err)
	}
	if cur, _ := got.Current(); cur.PID != 12 {
		t.Errorf("current worker = %+v, want PID 12", cur)
	}
}

func TestParseReloadAnswer(t *testing.T) {
	tests := []struct {
		answer   string
		ok, sync bool
		logs     string
	}{
		{"", false, false, ""}, // HAProxy 2.6
		{"Success=1\n--\n[NOTICE]   (1) : Loading success.\n\n", true, true, "[NOTICE]   (1) : Loading success."},
		{"Success=0\n--\n[ALERT]    (1) : config : bad\n", false, true, "[ALERT]    (1) : config : bad"},
	}
	for _, tt := range tests {
		ok, logs, sync := parseReloadAnswer(tt.answer)
		if ok != tt.ok || sync != tt.sync || logs != tt.logs {
			t.Errorf("parseReloadAnswer(%q) = %v, %q, %v; want %v, %q, %v", tt.answer, ok, logs, sync, tt.ok, tt.logs, tt.sync)
		}
	}
}
