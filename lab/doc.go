// Package lab runs the pair of load balancers as one system, on one
// machine: a client, the Floating IP, the MASTER's HAProxy, and the control
// planes and workers behind it, with keepalived deciding and hakgen-agent
// moving the Floating IP through the fake Hetzner API (hetznertest).
//
//	┌ internet ────────────────────────────────────────────┐
//	│ client 192.0.2.10       fake Hetzner API + metadata │
//	│ route 203.0.113.10/32 ──► owner's public address    │
//	│ bridge "pub" 198.51.100.1/24                        │
//	└───────┬────────────────────────────────────┬────────┘
//	        │ eth0 198.51.100.2                  │ eth0 198.51.100.3
//	  ┌─────┴──────────────┐             ┌───────┴────────────┐
//	  │ lb1                │    VRRP     │ lb2                │
//	  │ HAProxy, keepalived│◄───────────►│ HAProxy, keepalived│
//	  │ hakgen-agent       │             │ hakgen-agent       │
//	  └─────┬──────────────┘             └───────┬────────────┘
//	        │ enp7s0 10.0.0.5                    │ enp7s0 10.0.0.6
//	  ┌─────┴────────────────────────────────────┴────────┐
//	  │ private: bridge "seg" (10.0.0.0/24)               │
//	  └──────────────────────┬────────────────────────────┘
//	                         │ eth0
//	  ┌──────────────────────┴────────────────────────────┐
//	  │ backends: cp1-cp3 10.0.0.11-13 (TLS 6443),        │
//	  │           w1-w3 10.0.0.21-23 (80, 443)            │
//	  └───────────────────────────────────────────────────┘
//
// Every box is a Node: a holder process that is PID 1 of its own PID,
// network, mount and UTS namespaces, started with unshare; everything else
// enters it with nsenter. The load balancers get a VM's filesystem
// (machineScript): copy-on-write /etc and /var/lib over the host's, an empty
// /run and /tmp, a private /dev whose /dev/log is the lab's syslog
// receiver, and hakgen-agent in /usr/bin, so every default path of hakgen,
// Debian's HAProxy and keepalived is used as on a real load balancer. The
// quick start's names and addresses (testdata/quickstart.yaml) are used as
// they are; only the public side (198.51.100.0/24, RFC 5737) and the
// client are the lab's own.
//
// The fake API runs in the test process on a listener in the internet
// namespace; when an assign completes it re-routes the Floating IP to the
// new owner's public address after Options.RouteDelay, as Hetzner's
// network does. The backends are Go servers on listeners in the backends
// namespace, each with a certificate of its own from the lab's CA; the
// client dials from the internet namespace.
//
// Nothing leaves the lab's namespaces: no link is ever made in the host's
// namespace, every name the lab gives on the host carries a random
// suffix, processes are found by the PID of the child the lab started,
// every client loop is bounded in count and time, and the lab is torn
// down when the test ends, fails or is interrupted (its children die with
// the test process in any case: see internal/spawn).
//
// Kit.New builds a lab; the scenarios in lab_test.go use its handles:
// LB (its HAProxy, keepalived and agent as Procs, its state.yaml, its
// agent's status and healer's last check, its VRRP state, HAProxy's view
// of its servers and frontends, its HAProxy processes' count and memory,
// DropBackends), Node (Run a command in it, Nft rules, Listen and Dialer
// in its network namespace, its Journal), Lab.SetLinks, Lab.PartitionVRRP,
// Lab.StopBackends, the control planes' planned /readyz answers,
// Lab.API (the fake: faults, plans, its request log), Lab.Moves, and the
// clients (Prober, Stream, Clients, Flood) with MeasureOutage.
package lab
