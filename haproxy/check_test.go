package haproxy

import "testing"

func TestMessagesDropNoticesAndPIDs(t *testing.T) {
	out := "[NOTICE]   (7163) : haproxy version is 2.6.12\n" +
		"[WARNING]  (7163) : config : missing timeouts for frontend 'f'.\n" +
		"   | While not properly invalid, you will certainly encounter various problems\n" +
		"[ALERT]    (7163) : config : parsing [x.cfg:3] : unknown keyword 'bogus'\n" +
		"Configuration file is valid\n"
	want := "[WARNING] config : missing timeouts for frontend 'f'.\n" +
		"   | While not properly invalid, you will certainly encounter various problems\n" +
		"[ALERT] config : parsing [x.cfg:3] : unknown keyword 'bogus'\n"
	if got := messages(out); got != want {
		t.Errorf("messages:\n%s\nwant:\n%s", got, want)
	}
}
