// create_join.go: the Go column of the create_join rows (../create_join.c).
// A goroutine is started and waited for, sequentially, N times: the cost of
// a goroutine's whole life. A pthread_join hands back the thread's return
// value; here a channel does, and the value is checked as the C program
// checks it.
//
//	create_join [N]
//
// Prints "create_join <ns per create+join> <N>".
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
	result := make(chan int64)
	body := func(v int64) { result <- v }
	// Warm up, as the C program does.
	for i := int64(0); i < 100; i++ {
		go body(i)
		<-result
	}
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		go body(i)
		if r := <-result; r != i {
			fmt.Fprintf(os.Stderr, "create_join: failed at %d\n", i)
			os.Exit(1)
		}
	}
	el := time.Since(t0)
	fmt.Printf("create_join %.1f %d\n", float64(el.Nanoseconds())/float64(n), n)
}
