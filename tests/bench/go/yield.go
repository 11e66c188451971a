// yield.go: the Go column of the yield row (../yield.c). Two goroutines
// call runtime.Gosched in turn; scripts/bench runs it with GOMAXPROCS=1, so
// each call switches to the other goroutine. Each first waits, yielding,
// until both have started; then each yields N times.
//
//	yield [N]
//
// Prints "yield <ns per switch> <2N>", from the first start to the last
// exit, as the C program measures.
package main

import (
	"fmt"
	"os"
	"runtime"
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
