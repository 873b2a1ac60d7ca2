// Package oid4vp holds the protocol messages of OpenID for Verifiable Presentations 1.0
// (OpenID4VP) and the checks on them: the Authorization Request with its Digital Credentials
// Query Language (DCQL) query, the signed Request Object (JAR, RFC 9101, typ
// "oauth-authz-req+jwt") served by reference at a request_uri, the openid4vp:// deep link that
// points at it, and the direct_post Authorization Response carrying a vp_token.
//
// The package is shared by the verifier (which builds and signs requests and checks responses
// against its query) and the wallet (which parses links, verifies request objects from any
// verifier, evaluates DCQL against the credentials it holds and builds responses). It has no
// HTTP server, no HTTP client and no storage: fetching, single use of nonces and sessions are
// the caller's job.
//
// Client identification uses the decentralized_identifier Client Identifier Prefix (section
// 5.9.3): client_id is "decentralized_identifier:" followed by the verifier's DID, the request
// object must be signed, and its kid header must be a DID URL of that DID naming the key that
// signed it. The caller resolves the key (see KeyResolver), so did:jwk, did:web and the
// ledger's did:ez all work.
//
// Parsers of outside input reject oversized input, invalid UTF-8, JSON nested deeper than 32
// levels and objects that repeat a member name, and ignore members they do not know. Only the
// dc+sd-jwt credential format is evaluated by DCQL; queries for other formats parse but match
// nothing. All functions are safe for concurrent use. Deviations from the specification and
// choices where it leaves room are listed in testdata/README.md.
package oid4vp
