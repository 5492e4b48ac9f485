package failover

import (
	"context"
	"strconv"

	"github.com/hakgen/hakgen/hetzner"
)

// HealTarget is an address the healer keeps pointing here: a Floating IP
// (see FloatingIPHealTarget), or the private VIP's route.
type HealTarget interface {
	// Holder tells where the address points now.
	Holder(ctx context.Context) (Holder, error)
	// Assign points it to this node, the server serverID, and confirms it.
	Assign(ctx context.Context, serverID int64) (hetzner.Result, error)
}

// Holder is where an address points. The zero Holder is nowhere.
type Holder struct {
	// Server is the server's ID, 0 when the target cannot tell (or it
	// points nowhere).
	Server int64
	// Node names the load balancer it points to, when the target knows
	// its holders by load balancer (ByNode).
	Node string
	// ByNode: the target knows its holders by load balancer, so a Holder
	// without Node is none of them.
	ByNode bool
	// Where is what records and logs show, e.g. "gateway 10.0.0.6".
	Where string
}

// FloatingIPHealTarget is the HealTarget of Floating IP id, through c.
func FloatingIPHealTarget(id int64, c OwnerAssigner) HealTarget { return fipHealTarget{id, c} }

type fipHealTarget struct {
	id int64
	c  OwnerAssigner
}

func (t fipHealTarget) Holder(ctx context.Context) (Holder, error) {
	owner, err := t.c.Owner(ctx, t.id)
	return Holder{Server: owner}, err
}

func (t fipHealTarget) Assign(ctx context.Context, serverID int64) (hetzner.Result, error) {
	return t.c.Assign(ctx, t.id, serverID)
}

// mayHold reports whether holder may be this peer: it is, by name, for a
// target that knows its holders by load balancer; by server ID otherwise,
// where a peer whose ID is not known may be any server.
func (p Peer) mayHold(holder Holder) bool {
	if holder.ByNode {
		return holder.Node == p.Name
	}
	return p.ServerID == 0 || p.ServerID == holder.Server
}

// where describes the holder for messages.
func (holder Holder) where() string {
	switch {
	case holder.Where != "":
		return holder.Where
	case holder.Server != 0:
		return "server " + strconv.FormatInt(holder.Server, 10)
	}
	return "nowhere"
}
