// http_server.go: the Go column of the http row, Go's net/http in place of
// ../http_server.c (which describes the row). net/http serves each
// connection on a goroutine of its own and keeps HTTP/1.1 connections
// alive. Every request gets the C server's response, byte for byte: the
// same headers (net/http writes them sorted by name, as the C server does;
// its automatic Date header is suppressed) and the same body.
//
//	http_server [PORT]
//
// Listens on 127.0.0.1:PORT (none or 0: a free port the kernel picks),
// prints the port on one line, and serves until it is killed.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
)

var body = []byte("hello, world\n")

func main() {
	port := "0"
	if len(os.Args) > 1 {
		port = os.Args[1]
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintf(os.Stderr, "http_server: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	length := fmt.Sprint(len(body))
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Length"] = []string{length}
		h["Content-Type"] = []string{"text/plain"}
		h["Date"] = nil
		w.Write(body)
	})
	err = http.Serve(ln, handler)
	fmt.Fprintf(os.Stderr, "http_server: %v\n", err)
	os.Exit(1)
}
