// Package oid4vci holds the protocol messages of OpenID for Verifiable Credential Issuance 1.0
// (OpenID4VCI) and the checks on them: Credential Issuer and OAuth Authorization Server
// metadata, Credential Offers and their openid-credential-offer:// deep links, the Pre-Authorized
// Code grant with a Transaction Code, Token, Nonce, Credential, Deferred Credential and
// Notification messages, and the `jwt` key proof (openid4vci-proof+jwt).
//
// The package is shared by the issuer (which builds offers and metadata and checks requests and
// proofs) and the wallet (which parses offers and metadata from any issuer and builds requests
// and proofs). It speaks only the standard messages of the 1.0 final specification, so that it
// interoperates with issuers and wallets that are not ezheng. It has no HTTP server, no HTTP
// client and no storage: single use of pre-authorized codes, nonces and transaction ids is the
// caller's job.
//
// Parsers of outside input reject oversized input, invalid UTF-8, JSON nested deeper than 32
// levels and objects that repeat a member name, and ignore members they do not know, as the
// specification requires ("MUST ignore any unrecognized parameters"). All functions are safe for
// concurrent use; the message types are plain values with no internal locking.
//
// Deviations from the specification, and choices where it leaves room, are listed in
// testdata/README.md and in the documentation of the name concerned.
package oid4vci
