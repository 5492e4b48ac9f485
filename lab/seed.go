package lab

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// The seed's way: what operators copy today instead of hakgen, set up on
// the same machines, network and fake API.
//
//   - haproxy.cfg written by hand after kubeadm's HA guide
//     (kubernetes/kubeadm docs/ha-considerations.md, "haproxy
//     configuration"): the API only, `option httpchk GET /healthz` followed
//     by `option ssl-hello-chk` (which replaces the HTTP check), round robin.
//   - keepalived.conf as the most copied recipes have it: a vrrp_script
//     `killall -0 haproxy` with `weight 2`, both nodes BACKUP with
//     `nopreempt`, unicast peers (Hetzner networks carry no multicast), and
//     `notify_master` running a shell script that moves the Floating IP
//     with Debian's hcloud CLI (`hcloud floating-ip assign ID SERVER`).
//   - the token in the hcloud CLI's own configuration file, as `hcloud
//     context create` leaves it; HCLOUD_ENDPOINT (in keepalived's
//     environment) points the CLI at the fake.
const (
	seedNotifyScript = "/etc/keepalived/master.sh"
	seedCLIConfig    = "/root/.config/hcloud/cli.toml"
)

// seedPriority is the recipes' base priority of the first node; the
// second gets one less.
const seedPriority = 101

func (l *Lab) seedHAProxyConfig() string {
	var servers strings.Builder
	for _, cp := range l.Plan.ControlPlanes {
		fmt.Fprintf(&servers, "        server %s %s:%d check\n", cp.Name, cp.Addr, l.Plan.APIPort)
	}
	return fmt.Sprintf(`# /etc/haproxy/haproxy.cfg
#---------------------------------------------------------------------
# Global settings
#---------------------------------------------------------------------
global
    log /dev/log local0
    log /dev/log local1 notice
    daemon

#---------------------------------------------------------------------
# common defaults that all the 'listen' and 'backend' sections will
# use if not designated in their block
#---------------------------------------------------------------------
defaults
    mode                    http
    log                     global
    option                  httplog
    option                  dontlognull
    option http-server-close
    option forwardfor       except 127.0.0.0/8
    option                  redispatch
    retries                 1
    timeout http-request    10s
    timeout queue           20s
    timeout connect         5s
    timeout client          20s
    timeout server          20s
    timeout http-keep-alive 10s
    timeout check           10s

#---------------------------------------------------------------------
# apiserver frontend which proxys to the control plane nodes
#---------------------------------------------------------------------
frontend apiserver
    bind *:%d
    mode tcp
    option tcplog
    default_backend apiserverbackend

#---------------------------------------------------------------------
# round robin balancing for apiserver
#---------------------------------------------------------------------
backend apiserverbackend
    option httpchk GET /healthz
    http-check expect status 200
    mode tcp
    option ssl-hello-chk
    balance     roundrobin
%s`, l.Plan.APIPort, servers.String())
}

func (l *Lab) seedKeepalivedConf(i int) string {
	me := l.Plan.LBs[i]
	var peers strings.Builder
	for j, lb := range l.Plan.LBs {
		if j != i {
			fmt.Fprintf(&peers, "        %s\n", lb.Private)
		}
	}
	return fmt.Sprintf(`vrrp_script chk_haproxy {
    script "killall -0 haproxy"
    interval 2
    weight 2
}

vrrp_instance VI_1 {
    state BACKUP
    nopreempt
    interface %s
    virtual_router_id 51
    priority %d
    advert_int 1
    unicast_src_ip %s
    unicast_peer {
%s    }
    authentication {
        auth_type PASS
        auth_pass k8s-lb
    }
    virtual_ipaddress {
        %s/32 dev %s
    }
    track_script {
        chk_haproxy
    }
    notify_master %s
}
`, l.Plan.PrivateIface, seedPriority-i, me.Private, peers.String(), l.Plan.FloatingIP, l.Plan.PublicIface, seedNotifyScript)
}

func (l *Lab) seedNotify(i int) string {
	return fmt.Sprintf(`#!/bin/sh
# Move the Floating IP to this server.
hcloud floating-ip assign %d %d
`, l.Plan.FloatingIPID, l.Plan.LBs[i].ServerID)
}

func (l *Lab) seedCLIConfig() string {
	return fmt.Sprintf("active_context = \"k8s-lb\"\n\n[[contexts]]\n  name = \"k8s-lb\"\n  token = %q\n", l.token)
}

// startSeed sets both load balancers up the seed's way and starts
// HAProxy, then keepalived on lb1 and, once lb1 is MASTER, on lb2.
func (l *Lab) startSeed(ctx context.Context) error {
	for i, lb := range l.LBs {
		files := []struct {
			path, data string
			perm       os.FileMode
		}{
			{HAProxyConfig, l.seedHAProxyConfig(), 0o644},
			{KeepalivedConf, l.seedKeepalivedConf(i), 0o644},
			{seedNotifyScript, l.seedNotify(i), 0o755},
			{seedCLIConfig, l.seedCLIConfig(), 0o600},
		}
		for _, f := range files {
			if err := lb.WriteFile(f.path, []byte(f.data), f.perm); err != nil {
				return err
			}
		}
		if err := lb.StartHAProxy(ctx); err != nil {
			return err
		}
	}
	return l.startKeepalivedPair(ctx)
}
