// Command baseline is the ceiling for any Go ingest server on this machine:
// a bare net/http handler that reads the body and answers SUCCESS. The load
// script runs it beside moose so both are measured in one run.
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4999", "listen address")
	flag.Parse()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("SUCCESS"))
	})
	log.Fatal(http.ListenAndServe(*addr, nil))
}
