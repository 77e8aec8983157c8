package bench

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {95, 95 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0.1, time.Millisecond}} {
		if got := Percentile(d, tc.p); got != tc.want {
			t.Errorf("p%v = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := Percentile(nil, 99); got != 0 {
		t.Errorf("p99 of nothing = %v", got)
	}
	if got := Percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("p99 of one = %v", got)
	}
}

// The default customer numbers never play a scenario; the others play
// exactly theirs; references are unique.
func TestMixScenarios(t *testing.T) {
	t.Parallel()
	const n = 25_000
	reqs := Mix(n, "t", InstantScenario)
	refs := map[string]bool{}
	numbers := map[string]bool{}
	counts := map[string]int{}
	for i, r := range reqs {
		if refs[r.ReferenceID] || numbers[r.CustomerNumber] {
			t.Fatalf("purchase %d repeats a reference or a customer number: %+v", i, r)
		}
		refs[r.ReferenceID], numbers[r.CustomerNumber] = true, true
		num := r.CustomerNumber
		played := ""
		if num[len(num)-4:len(num)-2] == "99" {
			played = num[len(num)-2:]
		}
		if want := InstantScenario(i); played != want {
			t.Fatalf("purchase %d (%s) plays scenario %q, want %q", i, num, played, want)
		}
		counts[played]++
	}
	if counts[""] != n*18/20 || counts["21"] != n/20 || counts["11"] != n/20 {
		t.Fatalf("instant mix: %v", counts)
	}
	real := 0
	for i := range 1000 {
		if RealWorldScenario(i) == "21" {
			real++
		}
	}
	if real != 100 {
		t.Fatalf("real-world mix: %d of 1000 play 21, want 100", real)
	}
}
