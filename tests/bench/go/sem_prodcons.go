// sem_prodcons.go: the Go column of the semprodcons row (../sem_prodcons.c).
// A producer and a consumer goroutine pass N items through a 64-slot ring
// guarded by two counting semaphores, "empty" (starts at 64) and "full"
// (starts at 0). Go's standard library has no counting semaphore, and a
// buffered channel would be a different mechanism from the C program's, so
// the semaphores are a count under a sync.Mutex with a sync.Cond to wait on.
//
//	sem_prodcons [N]
//
// Prints "sem_prodcons <ns per item> <N>" after checking the sum of the
// items, as the C program does.
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

const slots = 64

// semaphore is a counting semaphore: wait takes one unit, blocking while
// there is none; post gives one back and wakes one waiter.
type semaphore struct {
	mu    sync.Mutex
	cond  sync.Cond
	count int
}

func newSemaphore(count int) *semaphore {
	s := &semaphore{count: count}
	s.cond.L = &s.mu
	return s
}

func (s *semaphore) wait() {
	s.mu.Lock()
	for s.count == 0 {
		s.cond.Wait()
	}
	s.count--
	s.mu.Unlock()
}

func (s *semaphore) post() {
	s.mu.Lock()
	s.count++
	s.cond.Signal()
	s.mu.Unlock()
}

func main() {
	n := int64(1000000)
	if len(os.Args) > 1 {
		n, _ = strconv.ParseInt(os.Args[1], 10, 64)
	}
	empty, full := newSemaphore(slots), newSemaphore(0)
	var ring [slots]int64
	var sum int64
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := int64(0); i < n; i++ {
			empty.wait()
			ring[i%slots] = i
			full.post()
		}
	}()
	go func() {
		defer wg.Done()
		for i := int64(0); i < n; i++ {
			full.wait()
			sum += ring[i%slots]
			empty.post()
		}
	}()
	wg.Wait()
	el := time.Since(t0)
	if sum != n*(n-1)/2 {
		fmt.Fprintf(os.Stderr, "sem_prodcons: checksum %d\n", sum)
		os.Exit(1)
	}
	fmt.Printf("sem_prodcons %.1f %d\n", float64(el.Nanoseconds())/float64(n), n)
}
