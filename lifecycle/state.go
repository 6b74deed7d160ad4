package lifecycle

import "fmt"

// State is an artifact's lifecycle state.
type State string

// The five states. Only Trusted is servable to a runtime.
const (
	Acquired    State = "acquired"
	Quarantined State = "quarantined"
	Trusted     State = "trusted"
	Revoked     State = "revoked"
	Deleted     State = "deleted"
)

// Valid reports whether s is one of the five states.
func (s State) Valid() bool {
	switch s {
	case Acquired, Quarantined, Trusted, Revoked, Deleted:
		return true
	}
	return false
}

// Action is what moves an artifact between states.
type Action string

// Actions. IntegrityFailure is taken by the registry itself when stored
// bytes no longer match their digest.
const (
	Acquire          Action = "acquire"
	Quarantine       Action = "quarantine"
	Promote          Action = "promote"
	Revoke           Action = "revoke"
	Delete           Action = "delete"
	IntegrityFailure Action = "integrity_failure"
)

// Refusal is an action the state machine does not allow from the current
// state. Its message names the artifact and the current state, as the
// predecessor's 409 answers did.
type Refusal struct {
	Name   string
	Action Action
	From   State
}

func (r *Refusal) Error() string {
	switch r.Action {
	case Quarantine:
		return fmt.Sprintf("cannot quarantine artifact %q: must be in acquired state, currently %s", r.Name, r.From)
	case Promote:
		return fmt.Sprintf("cannot promote artifact %q: currently in %s state", r.Name, r.From)
	case Revoke:
		return fmt.Sprintf("cannot revoke artifact %q: already in %s state", r.Name, r.From)
	case Acquire:
		return fmt.Sprintf("artifact name %q is already registered (state %s); a name cannot be acquired twice, choose another name", r.Name, r.From)
	}
	return fmt.Sprintf("cannot %s artifact %q from state %s", r.Action, r.Name, r.From)
}

// Decide applies the transition table of the predecessor's README:
//
//	from \ action  quarantine        promote           revoke           delete
//	acquired       → quarantined     → trusted         → revoked        → deleted
//	quarantined    already           → trusted         → revoked        → deleted
//	trusted        refused           → trusted (again) → revoked        → deleted
//	revoked        refused           → trusted (again) already          → deleted
//	deleted        refused           refused           refused          already
//
// An integrity failure moves trusted to quarantined and leaves any other
// state alone. It returns the next state, whether the action is a no-op
// ("already ..."), or a *Refusal. Whether a promotion is allowed by policy
// is decided elsewhere; this is only the state machine.
func Decide(name string, from State, a Action) (to State, noop bool, err error) {
	refuse := func() (State, bool, error) { return from, false, &Refusal{Name: name, Action: a, From: from} }
	if !from.Valid() {
		return refuse()
	}
	switch a {
	case Acquire:
		return refuse() // a name that exists is never acquired again
	case Quarantine:
		switch from {
		case Acquired:
			return Quarantined, false, nil
		case Quarantined:
			return from, true, nil
		}
		return refuse()
	case Promote:
		if from == Deleted {
			return refuse()
		}
		return Trusted, false, nil
	case Revoke:
		switch from {
		case Revoked:
			return from, true, nil
		case Deleted:
			return refuse()
		}
		return Revoked, false, nil
	case Delete:
		if from == Deleted {
			return from, true, nil
		}
		return Deleted, false, nil
	case IntegrityFailure:
		if from == Trusted {
			return Quarantined, false, nil
		}
		return from, true, nil
	}
	return refuse()
}
