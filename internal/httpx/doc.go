// Package httpx holds the small HTTP pieces every handler package shares:
// handlers that return error and the one adapter that turns an error into a
// status, a JSON body and one log line; APIError; JSON helpers; and the
// context keys for the request ID and the authenticated Principal.
//
// It imports only the standard library, so every other package may use it.
package httpx
