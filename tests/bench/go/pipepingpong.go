// pipepingpong.go: the Go column of the pipepp row (../pipepingpong.c).
// The main goroutine and one other pass a byte back and forth through two
// os.Pipe pairs, N times: the cost of one round trip. (Go reads and writes
// its pipes without blocking and parks the goroutine in its netpoller while
// a pipe is empty: that is the mechanism this column measures.)
//
//	pipepingpong [N]
//
// Prints "pipepingpong <ns per round trip> <N>".
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	n := int64(100000)
	if len(os.Args) > 1 {
		n, _ = strconv.ParseInt(os.Args[1], 10, 64)
	}
	abR, abW, err1 := os.Pipe()
	baR, baW, err2 := os.Pipe()
	if err1 != nil || err2 != nil {
		os.Exit(1)
	}
	done := make(chan error)
	t0 := time.Now()
	go func() {
		c := make([]byte, 1)
		for i := int64(0); i < n; i++ {
			if k, err := abR.Read(c); k != 1 {
				done <- fmt.Errorf("echo read: %v", err)
				return
			}
			if k, err := baW.Write(c); k != 1 {
				done <- fmt.Errorf("echo write: %v", err)
				return
			}
		}
		done <- nil
	}()
	c := []byte{'x'}
	for i := int64(0); i < n; i++ {
		if k, err := abW.Write(c); k != 1 {
			fmt.Fprintf(os.Stderr, "pipepingpong: write: %v\n", err)
			os.Exit(1)
		}
		if k, err := baR.Read(c); k != 1 {
			fmt.Fprintf(os.Stderr, "pipepingpong: read: %v\n", err)
			os.Exit(1)
		}
	}
	if err := <-done; err != nil {
		fmt.Fprintf(os.Stderr, "pipepingpong: %v\n", err)
		os.Exit(1)
	}
	el := time.Since(t0)
	fmt.Printf("pipepingpong %.1f %d\n", float64(el.Nanoseconds())/float64(n), n)
}
