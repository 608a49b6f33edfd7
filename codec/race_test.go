//go:build race

package codec

// raceEnabled skips allocation checks, since the race detector makes
// sync.Pool (which json.Valid uses) drop its items.
const raceEnabled = true
