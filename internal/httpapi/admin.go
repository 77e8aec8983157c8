package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/recon"
)

// callbackTimeout bounds storing one callback. The work is detached from
// the provider's connection: a provider hanging up must not leave a
// callback half-handled.
const callbackTimeout = 10 * time.Second

// callback is POST /callbacks/{provider}: the raw body and the signature
// header the provider's policy names go to the flow, which stores,
// deduplicates and applies them. 200 means stored; 500 makes the provider
// retry; an unknown provider is 404.
func (a *api) callback(c echo.Context) error {
	provider := c.Param("provider")
	header, known := a.cfg.Flow.SignatureHeader(provider)
	if !known {
		return errNotFound
	}
	body, err := readBody(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), callbackTimeout)
	defer cancel()
	signature := ""
	if header != "" {
		signature = c.Request().Header.Get(header)
	}
	action, err := a.cfg.Flow.HandleCallback(ctx, provider, body, signature)
	if err != nil {
		return err
	}
	a.log.DebugContext(ctx, "callback", "request_id", requestID(c), "provider", provider, "action", action)
	return c.JSON(http.StatusOK, map[string]string{"status": "received"})
}

// resolvePurchase is POST /admin/purchases/{id}/resolve.
func (a *api) resolvePurchase(c echo.Context) error {
	id, err := purchaseID(c)
	if err != nil {
		return err
	}
	var b resolveBody
	if err := a.decodeJSON(c, resolveFields(&b)); err != nil {
		return err
	}
	if b.Operator == "" {
		b.Operator = "admin"
	}
	p, err := a.cfg.Flow.Resolve(c.Request().Context(), id, flow.ResolveRequest{
		Status: flow.Status(b.Status), Note: b.Note, SerialNumber: b.SerialNumber, Force: b.Force, Operator: b.Operator,
	})
	if errors.Is(err, flow.ErrInvalidState) {
		return &stateError{Purchase: p, Err: err}
	}
	if err != nil {
		return err
	}
	return a.purchaseJSON(c, http.StatusOK, p)
}

// wib is Asia/Jakarta (no daylight saving), for a since given as a date.
var wib = time.FixedZone("WIB", 7*60*60)

// reconciliation is GET /admin/reconciliation?since=…: the report of
// package recon as JSON. since is RFC 3339 or a YYYY-MM-DD date in
// Asia/Jakarta; the default is 24 hours ago.
func (a *api) reconciliation(c echo.Context) error {
	since := a.now().Add(-24 * time.Hour)
	if v := c.QueryParam("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			if t, err = time.ParseInLocation(time.DateOnly, v, wib); err != nil {
				return &flow.ValidationError{Fields: []flow.FieldError{{Field: "since", Message: "must be an RFC 3339 time or a YYYY-MM-DD date"}}}
			}
		}
		since = t
	}
	if a.cfg.Recon == nil {
		return errors.New("httpapi: Config.Recon is required for the reconciliation report")
	}
	report, err := a.cfg.Recon(c.Request().Context(), recon.Options{Since: since, Now: a.now})
	if err != nil {
		return fmt.Errorf("reconciliation: %w", err)
	}
	return c.JSON(http.StatusOK, report)
}

// jobView is a River job as the operators' list shows it.
type jobView struct {
	ID          int64           `json:"id"`
	Kind        string          `json:"kind"`
	State       string          `json:"state"`
	Queue       string          `json:"queue"`
	Priority    int             `json:"priority"`
	Attempt     int             `json:"attempt"`
	MaxAttempts int             `json:"max_attempts"`
	Args        json.RawMessage `json:"args"`
	Errors      []jobErrorView  `json:"errors"`
	CreatedAt   string          `json:"created_at"`
	ScheduledAt string          `json:"scheduled_at"`
	AttemptedAt *string         `json:"attempted_at"`
	FinalizedAt *string         `json:"finalized_at"`
}

type jobErrorView struct {
	At      string `json:"at"`
	Attempt int    `json:"attempt"`
	Error   string `json:"error"`
}

var jobKindRe = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,100}$`)

// riverJobs is GET /admin/river/jobs?state=&kind=&limit=: a read-only list
// of River jobs, newest first, as JSON for scripts behind the admin token.
// People browse jobs in River UI, in the operator console
// (docs/console.md).
func (a *api) riverJobs(c echo.Context) error {
	params := river.NewJobListParams().OrderBy(river.JobListOrderByID, river.SortOrderDesc)
	var errs []flow.FieldError
	if v := c.QueryParam("state"); v != "" {
		var states []rivertype.JobState
		for _, s := range strings.Split(v, ",") {
			st := rivertype.JobState(s)
			valid := false
			for _, known := range rivertype.JobStates() {
				valid = valid || st == known
			}
			if !valid {
				errs = append(errs, flow.FieldError{Field: "state", Message: "must be River job states, comma-separated (available, running, completed, …)"})
				break
			}
			states = append(states, st)
		}
		params = params.States(states...)
	}
	if v := c.QueryParam("kind"); v != "" {
		kinds := strings.Split(v, ",")
		for _, k := range kinds {
			if !jobKindRe.MatchString(k) {
				errs = append(errs, flow.FieldError{Field: "kind", Message: "must be job kinds, comma-separated"})
				break
			}
		}
		params = params.Kinds(kinds...)
	}
	limit := defaultLimit
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			errs = append(errs, flow.FieldError{Field: "limit", Message: fmt.Sprintf("must be a whole number from 1 to %d", maxLimit)})
		}
		limit = n
	}
	if len(errs) > 0 {
		return &flow.ValidationError{Fields: errs}
	}
	res, err := a.cfg.Flow.River().JobList(c.Request().Context(), params.First(limit))
	if err != nil {
		return fmt.Errorf("list river jobs: %w", err)
	}
	out := struct {
		Data []jobView `json:"data"`
	}{Data: make([]jobView, 0, len(res.Jobs))}
	for _, j := range res.Jobs {
		v := jobView{ID: j.ID, Kind: j.Kind, State: string(j.State), Queue: j.Queue, Priority: j.Priority,
			Attempt: j.Attempt, MaxAttempts: j.MaxAttempts, Args: j.EncodedArgs, Errors: []jobErrorView{},
			CreatedAt: rfc3339(j.CreatedAt), ScheduledAt: rfc3339(j.ScheduledAt)}
		for _, e := range j.Errors {
			// The trace stays in the database: an error line is enough here.
			v.Errors = append(v.Errors, jobErrorView{At: rfc3339(e.At), Attempt: e.Attempt, Error: e.Error})
		}
		if j.AttemptedAt != nil {
			s := rfc3339(*j.AttemptedAt)
			v.AttemptedAt = &s
		}
		if j.FinalizedAt != nil {
			s := rfc3339(*j.FinalizedAt)
			v.FinalizedAt = &s
		}
		out.Data = append(out.Data, v)
	}
	return c.JSON(http.StatusOK, out)
}
