package conformance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/keyport/keyport/conformance"
)

func result(rep *conformance.Report, name string) *conformance.Result {
	for i := range rep.Results {
		if rep.Results[i].Name == name {
			return &rep.Results[i]
		}
	}
	return nil
}

// TestCheck runs the suite outside go test against the fake: the report has the
// subtests go test runs (those of the "Front" pass), all passed or not
// applicable, and no deviation.
func TestCheck(t *testing.T) {
	ctx := context.Background()
	rep, err := conformance.Check(ctx, "fake", fakeHarness(ctx, t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 0 || rep.Passed < 50 || len(rep.Deviations) != 0 || rep.Target != "fake" {
		var failed []string
		for _, r := range rep.Results {
			if r.Outcome == conformance.Failed {
				failed = append(failed, r.Name+": "+strings.Join(r.Messages, "; "))
			}
		}
		t.Fatalf("report: %d passed, %d failed %v, deviations %v", rep.Passed, rep.Failed, failed, rep.Deviations)
	}
	for name, want := range map[string]conformance.Outcome{
		"RoundTrip":                        conformance.Passed,
		"RoundTrip/OneByte":                conformance.Passed,
		"ContextBinding/ResplitPairs":      conformance.Passed,
		"EveryByteFlip/WithKeyID/Rejected": conformance.Passed,
		"Grants":                           conformance.NotApplicable, // the fake harness has no Grant hook
	} {
		r := result(rep, name)
		if r == nil || r.Outcome != want {
			t.Errorf("%s: %+v, want %s", name, r, want)
		}
	}
	if g := result(rep, "Grants"); g != nil && (len(g.Messages) == 0 || !strings.Contains(g.Messages[0], "Grant hook")) {
		t.Errorf("Grants: not applicable without saying why: %v", g.Messages)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "known deviations from AWS KMS: none") || !strings.Contains(text.String(), "RoundTrip/OneByte") {
		t.Errorf("text report:\n%s", text.String())
	}
}

// TestCheckNamesDeviations breaks the fake as a service that cannot tell a blob
// of another key from a damaged one: the report fails WrongKey, names the
// deviations that explain it, and keeps an unexplained fault apart.
func TestCheckNamesDeviations(t *testing.T) {
	ctx := context.Background()
	t.Setenv(breakage, "incorrectkey")
	rep, err := conformance.Check(ctx, "broken fake", fakeHarness(ctx, t))
	if err != nil {
		t.Fatal(err)
	}
	wk := result(rep, "WrongKey")
	if wk == nil || wk.Outcome != conformance.Failed || !slices.Contains(wk.Deviations, conformance.DeviationIncorrectKeyIsInvalidCiphertext) {
		t.Fatalf("WrongKey: %+v, want failed and explained by DeviationIncorrectKeyIsInvalidCiphertext", wk)
	}
	if !slices.Contains(rep.Deviations, conformance.DeviationIncorrectKeyIsInvalidCiphertext) || rep.Failed == 0 ||
		slices.Contains(rep.Deviations, conformance.DeviationPartialNativeReEncrypt) {
		t.Fatalf("report deviations %v, failed %d", rep.Deviations, rep.Failed)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Deviations []string `json:"deviations"`
		Results    []struct {
			Name, Outcome string
			Deviations    []string
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &back); err != nil || !slices.Contains(back.Deviations, "DeviationIncorrectKeyIsInvalidCiphertext") {
		t.Fatalf("JSON report: %s (%v)", b, err)
	}

	t.Setenv(breakage, "context")
	rep, err = conformance.Check(ctx, "broken fake", fakeHarness(ctx, t))
	if err != nil {
		t.Fatal(err)
	}
	if r := result(rep, "ContextBinding/WrongValue"); r == nil || r.Outcome != conformance.Failed || len(r.Deviations) != 0 || rep.Unexplained == 0 {
		t.Fatalf("ContextBinding/WrongValue: %+v, unexplained %d; want a failure no deviation explains", r, rep.Unexplained)
	}
}
