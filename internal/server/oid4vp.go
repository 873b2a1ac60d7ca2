package server

import (
	"context"

	"github.com/ezheng/ezheng/internal/keys"
	"github.com/ezheng/ezheng/verifier"
	"github.com/ezheng/ezheng/verifier/verifierhttp"
)

// registerOpenID4VP makes the OpenID4VP verifier (its key sealed under the master key in the
// verifier database) and mounts its routes, with the administration of the online services
// that use it (root authority only). devLoopback allows an http://127.0.0.1 public
// URL, for a local demo.
func (s *Server) registerOpenID4VP(ctx context.Context, devLoopback bool) error {
	sealer, err := keys.NewSealer(s.cfg.MasterKey, "verifier")
	if err != nil {
		return err
	}
	s.OpenID4VP, err = verifier.NewOpenID4VP(ctx, verifier.OpenID4VPConfig{Verifier: s.Verifier, Store: s.verifierDB, RelyingParties: s.verifierDB, Sealer: sealer,
		PublicURL: s.cfg.PublicURL, AllowLoopbackHTTP: devLoopback, Logger: s.cfg.Logger.With("component", "verifier"), Now: s.cfg.Now})
	if err != nil {
		return err
	}
	verifierhttp.RegisterOpenID4VP(s.Echo, s.OpenID4VP)
	verifierhttp.RegisterServices(s.Echo, s.OpenID4VP, s.serviceAdmin)
	return nil
}
