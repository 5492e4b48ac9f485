package hetznertest

import (
	"fmt"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// created is the creation time every fake object reports.
var created = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

func location() schema.Location {
	return schema.Location{
		ID: 1, Name: "fsn1", Description: "Falkenstein DC Park 1",
		Country: "DE", City: "Falkenstein", Latitude: 50.47612, Longitude: 12.370071,
		NetworkZone: "eu-central",
	}
}

func newFloatingIP(id int64, ip string) *schema.FloatingIP {
	desc := "hakgen test"
	return &schema.FloatingIP{
		ID: id, Name: fmt.Sprintf("fip-%d", id), Description: &desc,
		Created: created, IP: ip, Type: "ipv4",
		DNSPtr:       []schema.FloatingIPDNSPtr{{IP: ip, DNSPtr: "lb.example.com"}},
		HomeLocation: location(),
		Labels:       map[string]string{},
	}
}

func newServer(id int64, name string) *schema.Server {
	return &schema.Server{
		ID: id, Name: name, Status: "running", Created: created,
		PublicNet: schema.ServerPublicNet{
			IPv4: schema.ServerPublicNetIPv4{
				ID: id + 100000, IP: fmt.Sprintf("198.51.100.%d", id%250+1),
				DNSPtr: name + ".example.com",
			},
			IPv6: schema.ServerPublicNetIPv6{
				ID: id + 200000, IP: "2001:db8::/64",
				DNSPtr: []schema.ServerPublicNetIPv6DNSPtr{},
			},
			FloatingIPs: []int64{},
			Firewalls:   []schema.ServerFirewall{},
		},
		PrivateNet: []schema.ServerPrivateNet{},
		ServerType: schema.ServerType{
			ID: 22, Name: "cx22", Description: "CX22", Cores: 2, Memory: 4,
			Disk: 40, StorageType: "local", CPUType: "shared", Architecture: "x86",
		},
		IncludedTraffic: 21990232555520,
		Location:        location(),
		Image: &schema.Image{
			ID: 114690387, Name: new("debian-12"), Description: "Debian 12",
			Type: "system", Status: "available", Created: &created,
			OSFlavor: "debian", OSVersion: new("12"), Architecture: "x86",
			Labels: map[string]string{},
		},
		Labels:          map[string]string{},
		Volumes:         []int64{},
		PrimaryDiskSize: 40,
		LoadBalancers:   []int64{},
	}
}

// fakeAction is an action and what is left of its plan.
type fakeAction struct {
	schema.Action
	pollsLeft int // polls that still see "running"
	final     ActionPlan
	apply     func() // run when the action ends in success
}

// poll returns the action as a client sees it now, advancing it by one
// poll. The caller holds the Fake's lock.
func (a *fakeAction) poll() schema.Action {
	if a.Status == "running" {
		if a.pollsLeft > 0 {
			a.pollsLeft--
			a.Progress = 50
		} else {
			a.finish()
		}
	}
	return a.Action
}

func (a *fakeAction) finish() {
	now := time.Now().UTC()
	a.Finished = &now
	a.Progress = 100
	if a.final.ErrorCode != "" {
		a.Status = "error"
		a.Error = &schema.ActionError{Code: a.final.ErrorCode, Message: a.final.errorMessage()}
		return
	}
	a.Status = "success"
	if a.apply != nil {
		a.apply()
	}
}
