package console

import (
	"log/slog"

	"github.com/riverqueue/river"
	"riverqueue.com/riverui"
)

// JobsPrefix is where River UI is served, inside the console.
const JobsPrefix = "/console/river"

// NewJobs builds River UI for client, to be served under JobsPrefix behind
// the console's session (Config.Jobs). River UI has no authentication of
// its own: never serve the handler anywhere else. Its job list shows job
// arguments, which the flow keeps free of secrets.
func NewJobs[TTx any](client *river.Client[TTx], logger *slog.Logger) (*riverui.Handler, error) {
	return riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(client, nil),
		Logger:    logger,
		Prefix:    JobsPrefix,
	})
}
