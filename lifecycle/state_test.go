package lifecycle

import (
	"errors"
	"testing"
)

// TestDecideTable walks every state × action against the predecessor's
// table, cell by cell.
func TestDecideTable(t *testing.T) {
	const R = State("refused")
	const A = State("already")
	table := map[State]map[Action]State{
		Acquired:    {Acquire: R, Quarantine: Quarantined, Promote: Trusted, Revoke: Revoked, Delete: Deleted, IntegrityFailure: A},
		Quarantined: {Acquire: R, Quarantine: A, Promote: Trusted, Revoke: Revoked, Delete: Deleted, IntegrityFailure: A},
		Trusted:     {Acquire: R, Quarantine: R, Promote: Trusted, Revoke: Revoked, Delete: Deleted, IntegrityFailure: Quarantined},
		Revoked:     {Acquire: R, Quarantine: R, Promote: Trusted, Revoke: A, Delete: Deleted, IntegrityFailure: A},
		Deleted:     {Acquire: R, Quarantine: R, Promote: R, Revoke: R, Delete: A, IntegrityFailure: A},
	}
	for from, row := range table {
		for action, want := range row {
			to, noop, err := Decide("m", from, action)
			var ref *Refusal
			switch want {
			case R:
				if !errors.As(err, &ref) || to != from || noop {
					t.Errorf("%s --%s--> %s noop=%v err=%v, want refusal", from, action, to, noop, err)
				}
			case A:
				if err != nil || !noop || to != from {
					t.Errorf("%s --%s--> %s noop=%v err=%v, want no-op", from, action, to, noop, err)
				}
			default:
				if err != nil || noop || to != want {
					t.Errorf("%s --%s--> %s noop=%v err=%v, want %s", from, action, to, noop, err, want)
				}
			}
		}
	}
	for _, bad := range []State{"", "unknown", "TRUSTED"} {
		if _, _, err := Decide("m", bad, Promote); err == nil {
			t.Errorf("unknown state %q accepted", bad)
		}
	}
}

func TestRefusalMessagesNameTheState(t *testing.T) {
	for _, tc := range []struct {
		from State
		a    Action
		want string
	}{
		{Trusted, Quarantine, `cannot quarantine artifact "m": must be in acquired state, currently trusted`},
		{Deleted, Promote, `cannot promote artifact "m": currently in deleted state`},
		{Deleted, Revoke, `cannot revoke artifact "m": already in deleted state`},
	} {
		_, _, err := Decide("m", tc.from, tc.a)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s/%s: %v, want %q", tc.from, tc.a, err, tc.want)
		}
	}
}
