package structs

import (
	"fmt"
	"regexp"
	"time"
)

// ACL token types.
const (
	ACLClientToken     = "client"
	ACLManagementToken = "management"
)

// AnonymousPolicy names the policy that requests without a token get,
// when an operator has written one.
const AnonymousPolicy = "anonymous"

// BootstrapTokenName is the name of the token acl bootstrap creates.
const BootstrapTokenName = "Bootstrap Token"

// ACLPolicy is a named set of rules in the ACL policy language
// (agent/acl parses Rules). Policies are written by operators and
// attached to client tokens by name.
type ACLPolicy struct {
	Name        string
	Description string
	Rules       string
	CreateIndex uint64
	ModifyIndex uint64
}

// ACLPolicyListStub is a policy in a list: everything but its rules.
type ACLPolicyListStub struct {
	Name        string
	Description string
	CreateIndex uint64
	ModifyIndex uint64
}

// Stub returns the policy's list form.
func (p *ACLPolicy) Stub() *ACLPolicyListStub {
	return &ACLPolicyListStub{Name: p.Name, Description: p.Description,
		CreateIndex: p.CreateIndex, ModifyIndex: p.ModifyIndex}
}

// ACLToken is a bearer credential. AccessorID names it in the API and in
// logs; SecretID is what a request presents (X-Nomad-Token) and must
// never be logged or shown to anyone but a management token's holder
// and the token's own.
type ACLToken struct {
	AccessorID string
	SecretID   string
	Name       string
	// Type is client (its Policies grant what it may do) or management
	// (everything).
	Type     string
	Policies []string
	// Global is accepted and reported; Drover has one region, so every
	// token is everywhere it could be.
	Global     bool
	CreateTime time.Time
	// ExpirationTime, when set, is when the token stops working. It is
	// compared with the clock of the server checking a request, at every
	// request.
	ExpirationTime *time.Time `json:",omitempty"`
	CreateIndex    uint64
	ModifyIndex    uint64
}

// ACLTokenListStub is a token in a list: no secret.
type ACLTokenListStub struct {
	AccessorID     string
	Name           string
	Type           string
	Policies       []string
	Global         bool
	CreateTime     time.Time
	ExpirationTime *time.Time `json:",omitempty"`
	CreateIndex    uint64
	ModifyIndex    uint64
}

// Stub returns the token's list form, without its secret.
func (t *ACLToken) Stub() *ACLTokenListStub {
	return &ACLTokenListStub{AccessorID: t.AccessorID, Name: t.Name, Type: t.Type,
		Policies: t.Policies, Global: t.Global, CreateTime: t.CreateTime,
		ExpirationTime: t.ExpirationTime, CreateIndex: t.CreateIndex, ModifyIndex: t.ModifyIndex}
}

// Expired reports whether the token has expired at now.
func (t *ACLToken) Expired(now time.Time) bool {
	return t.ExpirationTime != nil && !now.Before(*t.ExpirationTime)
}

// Copy returns a copy that shares nothing mutable with t.
func (t *ACLToken) Copy() *ACLToken {
	if t == nil {
		return nil
	}
	c := *t
	c.Policies = append([]string(nil), t.Policies...)
	if t.ExpirationTime != nil {
		e := *t.ExpirationTime
		c.ExpirationTime = &e
	}
	return &c
}

// validPolicyName is the shape of a policy name: what fits in a URL path
// segment without escaping, at most 128 characters.
var validPolicyName = regexp.MustCompile(`^[a-zA-Z0-9-]{1,128}$`)

// ValidatePolicyName refuses a policy name that cannot be used in
// /v1/acl/policy/<name>.
func ValidatePolicyName(name string) error {
	if !validPolicyName.MatchString(name) {
		return fmt.Errorf("invalid name %q: a policy name is 1 to 128 letters, digits and dashes", name)
	}
	return nil
}

// Validate checks a token about to be written (the caller has
// stamped its IDs and times).
func (t *ACLToken) Validate() error {
	if len(t.Name) > 256 {
		return fmt.Errorf("token name too long")
	}
	switch t.Type {
	case ACLClientToken:
		if len(t.Policies) == 0 {
			return fmt.Errorf("client token missing policies")
		}
	case ACLManagementToken:
		if len(t.Policies) != 0 {
			return fmt.Errorf("management token cannot be associated with policies")
		}
	default:
		return fmt.Errorf("token type must be client or management")
	}
	if t.ExpirationTime != nil && !t.ExpirationTime.After(t.CreateTime) {
		return fmt.Errorf("expiration time cannot be before the create time")
	}
	return nil
}
