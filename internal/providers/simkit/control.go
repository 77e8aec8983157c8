package simkit

import (
	"encoding/json"
	"net/http"
)

// LedgerView is the answer of GET /_sim/ledger.
type LedgerView struct {
	Balance int64    `json:"balance"`
	Charges []Charge `json:"charges"`
	// DoubleCharges counts references charged more than once.
	DoubleCharges int `json:"double_charges"`
}

// Mount adds the control routes to mux: GET /_sim/ledger, GET and POST
// /_sim/faults, POST /_sim/reset. reset is called after the ledger and the
// faults are cleared, to forget the simulator's own state.
func Mount(mux *http.ServeMux, ledger *Ledger, faults *Injector, initialBalance int64, reset func()) {
	mux.HandleFunc("GET /_sim/ledger", func(w http.ResponseWriter, r *http.Request) {
		v := LedgerView{Balance: ledger.Balance(), Charges: ledger.Snapshot()}
		for _, c := range v.Charges {
			if c.Count > 1 {
				v.DoubleCharges++
			}
		}
		WriteJSON(w, http.StatusOK, v)
	})
	mux.HandleFunc("GET /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, faults.Get())
	})
	mux.HandleFunc("POST /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "faults: " + err.Error()})
			return
		}
		if err := f.Validate(); err != nil {
			WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		faults.Set(f)
		WriteJSON(w, http.StatusOK, f)
	})
	mux.HandleFunc("POST /_sim/reset", func(w http.ResponseWriter, r *http.Request) {
		ledger.Reset(initialBalance)
		faults.Set(Faults{})
		if reset != nil {
			reset()
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "reset"})
	})
}
