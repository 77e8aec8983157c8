package flow

// Tripped returns the providers this process's health rule leaves out of
// new routes now (a provider that answered nothing usable to
// PROVIDER_TRIP_AFTER calls in a row, for PROVIDER_TRIP_FOR). The breaker
// is per process: another serve process may have tripped others. The
// operator console shows it beside each provider's pause state.
func (s *Service) Tripped() map[string]bool { return s.health.tripped(s.now()) }
