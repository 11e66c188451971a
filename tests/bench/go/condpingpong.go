// condpingpong.go: the Go column of the condpp rows (../condpingpong.c).
// Two goroutines pass a turn back and forth through a sync.Mutex and a
// sync.Cond, each taking its turn N times: the cost of one round trip (two
// handoffs). scripts/bench runs it with GOMAXPROCS=1 and 2.
//
//	condpingpong [N]
//
// Prints "condpingpong <ns per round trip> <N>".
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

func main() {
	n := int64(100000)
	if len(os.Args) > 1 {
		n, _ = strconv.ParseInt(os.Args[1], 10, 64)
	}
	var mu sync.Mutex
	cv := sync.NewCond(&mu)
	turn := 0
	var wg sync.WaitGroup
	player := func(me int) {
		defer wg.Done()
		for i := int64(0); i < n; i++ {
			mu.Lock()
			for turn != me {
				cv.Wait()
			}
			turn = 1 - me
			cv.Signal()
			mu.Unlock()
		}
	}
	t0 := time.Now()
	wg.Add(2)
	for me := 0; me < 2; me++ {
		go player(me)
	}
	wg.Wait()
	el := time.Since(t0)
	fmt.Printf("condpingpong %.1f %d\n", float64(el.Nanoseconds())/float64(n), n)
}
