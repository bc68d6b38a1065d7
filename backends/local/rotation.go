package local

import (
	"context"
	"time"

	"github.com/keyport/keyport/backends"
)

// maxOnDemandRotations is how many on-demand rotations a key may have (the AWS limit).
const maxOnDemandRotations = 10

// EnableKeyRotation turns on automatic rotation every RotationPeriodInDays (90 to
// 2560, default 365) by the service's clock (kms:EnableKeyRotation). A disabled key
// is Disabled; a key pending deletion is KMSInvalidState.
func (c *Client) EnableKeyRotation(ctx context.Context, in *EnableKeyRotationInput) error {
	const op = "EnableKeyRotation"
	if in == nil {
		return backends.Errorf(backends.ErrInvalidArgument, op, "", "nil input")
	}
	days := in.RotationPeriodInDays
	if days == 0 {
		days = 365
	}
	if days < 90 || days > 2560 {
		return backends.Errorf(backends.ErrInvalidArgument, op, in.KeyID, "RotationPeriodInDays must be 90 to 2560")
	}
	k, err := c.adminKey(ctx, op, in.KeyID, "kms:EnableKeyRotation", "")
	if err != nil {
		return err
	}
	s := c.s
	defer s.leave()
	if err := s.usable(op, k); err != nil {
		return err
	}
	return s.commit(op, func() error {
		base := s.now()
		if k.RotationEnabled {
			base = k.Versions[len(k.Versions)-1].Created
		}
		k.RotationEnabled, k.RotationPeriodDays, k.NextRotation = true, days, base.AddDate(0, 0, days)
		s.st.MarkKey(k.ID)
		return nil
	})
}

// DisableKeyRotation turns off automatic rotation (kms:DisableKeyRotation).
func (c *Client) DisableKeyRotation(ctx context.Context, in *DisableKeyRotationInput) error {
	const op = "DisableKeyRotation"
	if in == nil {
		return backends.Errorf(backends.ErrInvalidArgument, op, "", "nil input")
	}
	k, err := c.adminKey(ctx, op, in.KeyID, "kms:DisableKeyRotation", "")
	if err != nil {
		return err
	}
	s := c.s
	defer s.leave()
	if err := s.usable(op, k); err != nil {
		return err
	}
	return s.commit(op, func() error {
		k.RotationEnabled, k.RotationPeriodDays, k.NextRotation = false, 0, time.Time{}
		s.st.MarkKey(k.ID)
		return nil
	})
}

// GetKeyRotationStatus says whether automatic rotation is on, its period and the
// next rotation date (kms:GetKeyRotationStatus). A key pending deletion reports
// rotation off, as AWS does.
func (c *Client) GetKeyRotationStatus(ctx context.Context, in *GetKeyRotationStatusInput) (*GetKeyRotationStatusOutput, error) {
	const op = "GetKeyRotationStatus"
	if in == nil {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, "", "nil input")
	}
	k, unlock, err := c.adminKeyRead(ctx, op, in.KeyID, "kms:GetKeyRotationStatus")
	if err != nil {
		return nil, err
	}
	defer unlock()
	s := c.s
	out := &GetKeyRotationStatusOutput{KeyID: s.keyARN(k)}
	if k.RotationEnabled && k.State != backends.KeyStatePendingDeletion {
		out.KeyRotationEnabled, out.RotationPeriodInDays, out.NextRotationDate = true, k.RotationPeriodDays, k.NextRotation
	}
	return out, nil
}

// RotateKeyOnDemand adds a backing-key version at once; new ciphertexts use it and
// old ones still decrypt (kms:RotateKeyOnDemand). A key may be rotated on demand
// at most 10 times (LimitExceeded after). The automatic schedule is unchanged.
func (c *Client) RotateKeyOnDemand(ctx context.Context, in *RotateKeyOnDemandInput) (*RotateKeyOnDemandOutput, error) {
	const op = "RotateKeyOnDemand"
	if in == nil {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, "", "nil input")
	}
	k, err := c.adminKey(ctx, op, in.KeyID, "kms:RotateKeyOnDemand", "")
	if err != nil {
		return nil, err
	}
	s := c.s
	defer s.leave()
	if err := s.usable(op, k); err != nil {
		return nil, err
	}
	if k.OnDemandRotations >= maxOnDemandRotations {
		return nil, backends.Errorf(backends.ErrLimitExceeded, op, s.keyARN(k), "the key has had %d on-demand rotations, the most allowed", maxOnDemandRotations)
	}
	if err := s.commit(op, func() error {
		k.AddVersion(s.now())
		k.OnDemandRotations++
		s.st.MarkKey(k.ID)
		return nil
	}); err != nil {
		return nil, err
	}
	return &RotateKeyOnDemandOutput{KeyID: s.keyARN(k), CurrentVersion: len(k.Versions)}, nil
}
