// yield.go: the Go column of the yield row (../yield.c). Two goroutines
// call runtime.Gosched in turn; scripts/bench runs it with GOMAXPROCS=1, so
// each call switches to the other goroutine. Each first waits, yielding,
// until both have started; then each yields N times.
//
//	yield [N]
//
// Prints "yield <ns per switch> <2N>", from the first start to the last
// exit, as the C program measures. With YIELD_TRACE=FILE in the
// environment, Go's execution tracer (runtime/trace) records the run to
// FILE: the Go column of the row that runs gpm with GPM_TRACE on.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/trace"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	n := int64(200000)
	if len(os.Args) > 1 {
		n, _ = strconv.ParseInt(os.Args[1], 10, 64)
	}
	var started int32
	var wg sync.WaitGroup
	yielder := func() {
		defer wg.Done()
		atomic.AddInt32(&started, 1)
		for atomic.LoadInt32(&started) < 2 {
			runtime.Gosched()
		}
		for i := int64(0); i < n; i++ {
			runtime.Gosched()
		}
	}
	if path := os.Getenv("YIELD_TRACE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "yield: %v\n", err)
			os.Exit(1)
		}
		if err := trace.Start(f); err != nil {
			fmt.Fprintf(os.Stderr, "yield: %v\n", err)
			os.Exit(1)
		}
		defer f.Close()
		defer trace.Stop()
	}
	t0 := time.Now()
	wg.Add(2)
	for i := 0; i < 2; i++ {
		go yielder()
	}
	wg.Wait()
	el := time.Since(t0)
	// Two goroutines, n yields each: 2n switches.
	fmt.Printf("yield %.1f %d\n", float64(el.Nanoseconds())/float64(2*n), 2*n)
}
