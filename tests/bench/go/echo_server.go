// echo_server.go: the Go column of the echo rows (../echo_server.c). A TCP
// echo server on loopback with a goroutine per connection; CLIENTS client
// goroutines, each on a connection of its own, send REQUESTS requests of 16
// bytes ("req <i>", zero-padded) and check each echo before the next. Go
// sets TCP_NODELAY on every TCP connection, as the C program does by hand.
//
//	echo_server [REQUESTS [CLIENTS [split]]]
//
// Prints "echo_server <ns per request> <REQUESTS*CLIENTS>", timed from the
// first client's start to the last one's end.
//
// As in the C program, the soft RLIMIT_NOFILE is raised to the hard limit,
// and "split" runs the clients in a child process (this program again, with
// the arguments "child PORT" appended) where one process could not hold
// both ends of every connection.
package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

var requests, clients int64

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "echo_server: "+format+"\n", args...)
	os.Exit(1)
}

func raiseNofile() {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
}

func serve(c net.Conn) {
	buf := make([]byte, 64)
	for {
		k, err := c.Read(buf)
		if k > 0 {
			if _, werr := c.Write(buf[:k]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	c.Close()
}

// accept serves the clients' connections, a goroutine each.
func accept(ln net.Listener) {
	for i := int64(0); i < clients; i++ {
		c, err := ln.Accept()
		if err != nil {
			fail("accept: %v", err)
		}
		go serve(c)
	}
}

func client(addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		fail("connect: %v", err)
	}
	msg := make([]byte, 16)
	buf := make([]byte, 16)
	for i := int64(0); i < requests; i++ {
		for j := range msg {
			msg[j] = 0
		}
		copy(msg, strconv.AppendInt([]byte("req "), i, 10))
		if _, err := c.Write(msg); err != nil {
			fail("write: %v", err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			fail("read: %v", err)
		}
		if !bytes.Equal(buf, msg) {
			fail("wrong echo")
		}
	}
	c.Close()
}

// runClients starts the clients, waits for all of them and prints the
// report.
func runClients(addr string) {
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(int(clients))
	for i := int64(0); i < clients; i++ {
		go func() {
			defer wg.Done()
			client(addr)
		}()
	}
	wg.Wait()
	el := time.Since(t0)
	ops := requests * clients
	fmt.Printf("echo_server %.1f %d\n", float64(el.Nanoseconds())/float64(ops), ops)
}

func main() {
	requests, clients = 100, 1000
	if len(os.Args) > 1 {
		requests, _ = strconv.ParseInt(os.Args[1], 10, 64)
	}
	if len(os.Args) > 2 {
		clients, _ = strconv.ParseInt(os.Args[2], 10, 64)
	}
	raiseNofile()
	if len(os.Args) > 4 && os.Args[3] == "child" {
		runClients("127.0.0.1:" + os.Args[4])
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("listen: %v", err)
	}
	addr := ln.Addr().String()
	if len(os.Args) <= 3 || os.Args[3] != "split" {
		go accept(ln)
		runClients(addr)
		return
	}
	self, err := os.Executable()
	if err != nil {
		fail("%v", err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	child := exec.Command(self, os.Args[1], os.Args[2], "child", port)
	child.Stdout, child.Stderr = os.Stdout, os.Stderr
	if err := child.Start(); err != nil {
		fail("%v", err)
	}
	// The parent ends when the child does, even if a failed child leaves
	// the acceptor waiting for connections that never come.
	go accept(ln)
	if err := child.Wait(); err != nil {
		os.Exit(1)
	}
}
