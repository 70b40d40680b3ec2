// Package migrate moves the secrets of a compose env file into an Infisical
// folder and leaves the non-secret settings in the file.
//
// NewPlan decides, writing nothing: it reads the file with compose-go's
// parser, resolving references as startsvc up does, so the values that go to
// Infisical are the ones the containers received; it classifies each key
// (Classify, overridden by --move and --keep); it compares each with the
// folder's listing; and it computes the file without the keys that leave,
// keeping comments, blank lines and the order and bytes of every other line.
// That new content is parsed again and every key that stays must read exactly
// as before; a kept value that reads a key that leaves is a problem that
// names both keys.
//
// Plan.Apply then writes: a backup, the secrets (in batches), a listing to
// compare every key that leaves, and only then the file, atomically. A key
// that Infisical holds with a different value is not written and stays in the
// file unless the plan was made with Overwrite. Values Infisical would not
// give back unchanged (white space at either end, which the server trims;
// ${…}, which it expands; NUL; invalid UTF-8) are refused before anything is
// written.
//
// Nothing in this package prints or returns a value in an error.
package migrate
