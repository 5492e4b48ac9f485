package lab

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Figure is a scenario's own measured value, e.g. how long until HAProxy
// sent a failing control plane no new connection.
type Figure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// Run is the outcome of one run of one scenario.
type Run struct {
	Passed bool `json:"passed"`
	// Failover scenarios: whether a new connection succeeded after the
	// fault within the scenario, and the outage (only when it did).
	Recovered   *bool    `json:"recovered,omitempty"`
	OutageMS    *float64 `json:"outageMs,omitempty"`
	Window      float64  `json:"windowSeconds,omitempty"` // how long the scenario waited
	APIRequests *int     `json:"apiRequests,omitempty"`   // to the fake, from the fault on
	Figure      *Figure  `json:"figure,omitempty"`
	// More are further figures of the scenario, in the same order every
	// run.
	More    []Figure `json:"more,omitempty"`
	Seconds float64  `json:"seconds"` // the whole run, the lab's start included
}

// FromOutage fills the failover fields of r from o, observed for window.
func (r *Run) FromOutage(o Outage, window time.Duration) {
	r.Recovered = &o.Recovered
	r.Window = window.Seconds()
	if o.Recovered {
		ms := float64(o.Gap) / float64(time.Millisecond)
		r.OutageMS = &ms
	}
}

// Row is every run of one scenario, one way.
type Row struct {
	Scenario string `json:"scenario"`
	Way      Way    `json:"way"`
	Runs     []Run  `json:"runs"`
}

// Results collect the runs of a test and report them as a table and as
// JSON (lab-results.json). They are safe for concurrent use.
type Results struct {
	mu   sync.Mutex
	rows []*Row
}

// Add records one run.
func (r *Results) Add(scenario string, way Way, run Run) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, row := range r.rows {
		if row.Scenario == scenario && row.Way == way {
			row.Runs = append(row.Runs, run)
			return
		}
	}
	r.rows = append(r.rows, &Row{Scenario: scenario, Way: way, Runs: []Run{run}})
}

// Empty reports whether no run was recorded.
func (r *Results) Empty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.rows) == 0
}

// WriteTable prints the table: one line per scenario and way, with the
// minimum, median and maximum over its runs.
func (r *Results) WriteTable(w io.Writer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tway\tresult\toutage ms (min/median/max)\tvs hakgen\tAPI requests\tfigure")
	for _, row := range r.rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row.Scenario, row.Way, row.result(), row.outage(),
			r.ratio(row), row.requests(), row.figure())
	}
	return tw.Flush()
}

func (row *Row) result() string {
	passed := 0
	for _, run := range row.Runs {
		if run.Passed {
			passed++
		}
	}
	if passed == len(row.Runs) {
		return fmt.Sprintf("pass %d/%d", passed, len(row.Runs))
	}
	return fmt.Sprintf("FAIL %d/%d", len(row.Runs)-passed, len(row.Runs))
}

// outages returns the outages of the runs that recovered, and how many
// runs were failovers that did not.
func (row *Row) outages() (ms []float64, never int, window float64) {
	for _, run := range row.Runs {
		switch {
		case run.OutageMS != nil:
			ms = append(ms, *run.OutageMS)
		case run.Recovered != nil:
			never++
			window = max(window, run.Window)
		}
	}
	return ms, never, window
}

func (row *Row) outage() string {
	ms, never, window := row.outages()
	var parts []string
	if len(ms) > 0 {
		parts = append(parts, spread(ms, "%.0f"))
	}
	if never > 0 {
		parts = append(parts, fmt.Sprintf("no recovery within %.0f s (%d/%d runs)", window, never, len(row.Runs)))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "; ")
}

// ratio compares a seed row's median outage with hakgen's in the same
// scenario.
func (r *Results) ratio(row *Row) string {
	if row.Way != Seed {
		return ""
	}
	var base *Row
	for _, other := range r.rows {
		if other.Scenario == row.Scenario && other.Way == Hakgen {
			base = other
		}
	}
	if base == nil {
		return "-"
	}
	seedMS, seedNever, _ := row.outages()
	baseMS, _, _ := base.outages()
	switch {
	case len(baseMS) == 0:
		return "-"
	case seedNever > 0 && len(seedMS) == 0:
		return "never recovers"
	case len(seedMS) == 0:
		return "-"
	}
	s := fmt.Sprintf("%.2fx", median(seedMS)/median(baseMS))
	if seedNever > 0 {
		s += fmt.Sprintf(" (%d runs never)", seedNever)
	}
	return s
}

func (row *Row) requests() string {
	var n []float64
	for _, run := range row.Runs {
		if run.APIRequests != nil {
			n = append(n, float64(*run.APIRequests))
		}
	}
	if len(n) == 0 {
		return "-"
	}
	return spread(n, "%.0f")
}

// figure is every figure of the runs, each as "name: min / median / max
// unit", joined with "; ".
func (row *Row) figure() string {
	var order []string
	units := map[string]string{}
	values := map[string][]float64{}
	add := func(f Figure) {
		if _, ok := values[f.Name]; !ok {
			order = append(order, f.Name)
		}
		units[f.Name] = f.Unit
		values[f.Name] = append(values[f.Name], f.Value)
	}
	for _, run := range row.Runs {
		if run.Figure != nil {
			add(*run.Figure)
		}
		for _, f := range run.More {
			add(f)
		}
	}
	var parts []string
	for _, name := range order {
		s := fmt.Sprintf("%s: %s", name, spreadOf(values[name], figureValue))
		if units[name] != "" {
			s += " " + units[name]
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// spread is "v" for one value, else "min / median / max".
func spread(v []float64, format string) string {
	return spreadOf(v, func(x float64) string { return fmt.Sprintf(format, x) })
}

func spreadOf(v []float64, str func(float64) string) string {
	if len(v) == 1 {
		return str(v[0])
	}
	return str(slices.Min(v)) + " / " + str(median(v)) + " / " + str(slices.Max(v))
}

// figureValue shows three significant digits, whole numbers from 100 on.
func figureValue(v float64) string {
	if math.Abs(v) >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// report is the JSON form of Results.
type report struct {
	Date    time.Time         `json:"date"`
	Machine map[string]string `json:"machine"`
	Rows    []*Row            `json:"rows"`
	Table   []string          `json:"table"`
}

// WriteJSON writes the results, the machine they ran on and the table
// to path.
func (r *Results) WriteJSON(path string) error {
	var table strings.Builder
	if err := r.WriteTable(&table); err != nil {
		return err
	}
	r.mu.Lock()
	rep := report{Date: time.Now().UTC(), Machine: machine(), Rows: r.rows, Table: strings.Split(strings.TrimRight(table.String(), "\n"), "\n")}
	data, err := json.MarshalIndent(rep, "", "  ")
	r.mu.Unlock()
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// machine describes where the lab ran.
func machine() map[string]string {
	m := map[string]string{"cpus": fmt.Sprint(runtime.NumCPU()), "go": runtime.Version()}
	for key, argv := range map[string][]string{
		"kernel":     {"uname", "-r"},
		"haproxy":    {"/usr/sbin/haproxy", "-v"},
		"keepalived": {"/usr/sbin/keepalived", "--version"},
	} {
		out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		if err == nil {
			m[key] = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
		}
	}
	return m
}
