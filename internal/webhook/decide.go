package webhook

import (
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// DefaultSchedule is the delays between attempts after the first, which is
// made at once (Standard Webhooks' schedule, about 3 days in all); each
// delay gets ±10 % jitter. After the last, the delivery is failed.
var DefaultSchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
	10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour,
}

// Defaults of Config (docs/webhooks.md).
const (
	// DefaultInFlight is how many attempts one endpoint may have in flight.
	DefaultInFlight = 5
	// DefaultDisableAfter: an endpoint whose every attempt failed this long
	// is disabled.
	DefaultDisableAfter = 5 * 24 * time.Hour
	// throttlePause is how long a 429, 502, 503 or 504 without Retry-After
	// pauses its endpoint.
	throttlePause = 10 * time.Second
)

// jitter spreads d by ±10 %; r is uniform in [0, 1).
func jitter(d time.Duration, r float64) time.Duration {
	return time.Duration(float64(d) * (0.9 + 0.2*r))
}

// verdict is what an answer means.
type verdict int

const (
	verdictDelivered verdict = iota // 2xx
	verdictFailed                   // anything else: another attempt later
	verdictThrottled                // 429, 502, 503, 504: failed, and the endpoint slows down
	verdictGone                     // 410: the endpoint is disabled
)

// classify judges an attempt's answer by its HTTP status (docs/webhooks.md
// "Signing and sending"); no status (a timeout, a refused or broken
// connection) and a 3xx (redirects are not followed) are failed attempts.
func classify(a answer) verdict {
	switch {
	case a.Status >= 200 && a.Status < 300:
		return verdictDelivered
	case a.Status == 410:
		return verdictGone
	case a.Status == 429 || a.Status == 502 || a.Status == 503 || a.Status == 504:
		return verdictThrottled
	}
	return verdictFailed
}

// outcome is how one attempt ends its message and what it changes on the
// endpoint: the pure core of a delivery attempt.
type outcome struct {
	Status   store.WebhookMessageStatus // pending (another attempt at Next), delivered, failed or canceled
	Next     *time.Time
	Finished *time.Time
	// The endpoint's new failing_since and throttled_until.
	FailingSince   *time.Time
	ThrottledUntil *time.Time
	// Disable is why the endpoint is disabled now ("gone", "failing"), or "".
	Disable string
}

// decide is what an attempt's answer does, given the attempts of this round
// made before it, the endpoint's failing_since and throttled_until, the
// retry schedule, how long an endpoint may fail before it is disabled, and
// a uniform random number in [0, 1) for the jitter.
func decide(now time.Time, a answer, roundBefore int, failingSince, throttledUntil *time.Time, schedule []time.Duration, disableAfter time.Duration, r float64) outcome {
	v := classify(a)
	if v == verdictDelivered {
		return outcome{Status: store.WebhookMessageStatusDelivered, Finished: &now, ThrottledUntil: throttledUntil}
	}
	o := outcome{FailingSince: failingSince, ThrottledUntil: throttledUntil}
	if o.FailingSince == nil {
		o.FailingSince = &now
	}
	if v == verdictThrottled {
		pause := throttlePause
		if a.HasRetryAfter {
			pause = a.RetryAfter
		}
		until := now.Add(pause)
		if o.ThrottledUntil == nil || until.After(*o.ThrottledUntil) {
			o.ThrottledUntil = &until
		}
	}
	made := roundBefore + 1
	switch {
	case made > len(schedule):
		o.Status, o.Finished = store.WebhookMessageStatusFailed, &now
	case v == verdictGone:
		o.Status, o.Finished = store.WebhookMessageStatusCanceled, &now
	default:
		next := now.Add(jitter(schedule[made-1], r))
		if v == verdictThrottled && a.HasRetryAfter && now.Add(a.RetryAfter).After(next) {
			next = now.Add(a.RetryAfter)
		}
		o.Status, o.Next = store.WebhookMessageStatusPending, &next
	}
	switch {
	case v == verdictGone:
		o.Disable = "gone"
	case now.Sub(*o.FailingSince) >= disableAfter:
		o.Disable = "failing"
		if o.Status == store.WebhookMessageStatusPending {
			o.Status, o.Next, o.Finished = store.WebhookMessageStatusCanceled, nil, &now
		}
	}
	return o
}

// gateAction is what a delivery job does with its message now.
type gateAction int

const (
	gateSend   gateAction = iota // make the attempt
	gateWait                     // snooze for wait
	gateCancel                   // the endpoint is deleted or disabled: the message ends canceled
	gateDone                     // the message is no longer pending: nothing to do
)

// gate decides whether a message's attempt may start now: the message must
// be pending and due, not in flight elsewhere, its endpoint there, enabled,
// not throttled and with a free slot (fewer than limit attempts in flight).
// When the slots are taken it estimates the wait from the due messages
// ahead and the endpoint's last latency, spread by r in [0, 1), so that a
// backlog of a slow endpoint does not wake every second.
func gate(now time.Time, m store.WebhookMessage, e store.WebhookEndpoint, inFlight, due int64, limit int, r float64) (gateAction, time.Duration) {
	switch {
	case m.Status != store.WebhookMessageStatusPending:
		return gateDone, 0
	case e.DeletedAt != nil || e.DisabledAt != nil:
		return gateCancel, 0
	case m.NextAttemptAt != nil && m.NextAttemptAt.After(now):
		return gateWait, m.NextAttemptAt.Sub(now)
	case m.LeaseUntil != nil && m.LeaseUntil.After(now):
		return gateWait, m.LeaseUntil.Sub(now) + time.Second
	case e.ThrottledUntil != nil && e.ThrottledUntil.After(now):
		return gateWait, e.ThrottledUntil.Sub(now) + time.Duration(r*float64(time.Second))
	case inFlight >= int64(limit):
		latency := max(time.Duration(e.LastLatencyMs)*time.Millisecond, 100*time.Millisecond)
		estimate := time.Duration(due/int64(limit)) * latency
		spread := min(max(2*estimate, time.Second), 5*time.Minute)
		return gateWait, 500*time.Millisecond + time.Duration(r*float64(spread))
	}
	return gateSend, 0
}
