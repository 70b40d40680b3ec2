// Package infisical reads secrets from Infisical: through its HTTP API with a
// small client of its own (two calls in the normal case: one login, one
// listing), or through the Infisical CLI for a person logged in with it.
//
// # Settings
//
// ResolveSettings takes each setting from the first place that gives it:
// flags, then environment variables, then the nearest .infisical.json, then
// the defaults (https://app.infisical.com, environment dev, folder /). The site
// URL may be given with or without its /api suffix; of the variables,
// INFISICAL_DOMAIN is read before INFISICAL_API_URL, as the Infisical CLI
// reads them. Credentials come only from
// the environment, never from flags: a token (INFISICAL_UNIVERSAL_AUTH_ACCESS_TOKEN,
// then INFISICAL_TOKEN, which may also hold a legacy service token st.…) wins
// over a client id and secret, since it needs no login call; the client id and
// secret pairs are read in the order INFISICAL_UNIVERSAL_AUTH_CLIENT_ID,
// INFISICAL_CLIENT_ID, INFISICAL_MACHINE_INDENTITY_CLIENT_ID (the spelling an
// existing setup uses), each with its _SECRET. Credentials are held as
// secrets.Secret and never print.
//
// # Listing and precedence
//
// The client asks GET /api/v4/secrets with every option spelled out. A server
// that answers that this route does not exist (servers from 2024) is asked
// GET /api/v3/secrets/raw instead, and the client keeps asking it that way.
// Among the secrets a listing returns, one per key is kept:
//
//   - A secret of the listed folder (or, when recursive, of one of its
//     subfolders) wins over an imported secret of the same key.
//   - Among imports, the last import wins, as in the Infisical CLI.
//   - In a recursive listing, a key found in several folders is taken from the
//     shallowest folder, and among folders of equal depth from the lexically
//     first path; so "/" beats "/app", and "/app" beats "/db" and "/app/x".
//     Each such key is reported as a Collision (names and folders only).
//   - Within one folder a personal override wins over the shared secret, as in
//     the Infisical CLI.
//
// # Errors
//
// Every failure is an *Error whose Kind drives the fallback policy: Unreachable
// (no answer came whole: connection refused, DNS, TLS, timeout, 5xx or 429
// after bounded retries, a body cut short or larger than the cap) and
// NotConfigured allow falling back to .env; Auth (401, 403), NotFound (a
// project, environment or folder that does not exist) and Invalid (among
// others, a 200 answer that is not what Infisical sends) are errors.
//
// A server from 2024 answers a listing for an environment or folder that does
// not exist with 200 and an empty list, as for an empty folder; newer servers
// answer 404 SecretPathNotFound. So an empty listing is checked: the client
// asks for the project's environments (GET /api/v1/workspace/{id}) and, for a
// folder below the root, for the child folders of each parent
// (GET /api/v1/folders), and a name that is not there is NotFound. A listing
// with secrets costs no extra call; a server without those routes, or one that
// does not let the identity read them, leaves the empty listing as it is (the
// latter with a note). A 429 is retried after the wait the server names, and
// a 5xx after a short back-off, only while the wait fits before the context's
// deadline. A call whose context has no deadline is bounded by the client's
// own timeout. Error texts name the operation, the host and the server's
// message; they never hold a credential or a secret value.
package infisical
