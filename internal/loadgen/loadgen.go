// Package loadgen is ezheng's load generator: it calls a function at a fixed rate (open loop,
// so a slow server does not slow the offered load down) for a fixed time on a bounded number
// of workers, and reports throughput and latency percentiles. Latency is measured from when a
// call was scheduled, not from when a worker picked it up, so queueing in the generator is
// counted (no coordinated omission).
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Config says how much load to offer.
type Config struct {
	Rate        float64       // calls per second; > 0
	Duration    time.Duration // how long to offer load; > 0
	Concurrency int           // workers; calls beyond this wait (and their wait counts as latency)
	// Progress, if set, is called about once a second with the calls done so far.
	Progress func(done, errors int, elapsed time.Duration)
}

// Result summarises a run.
type Result struct {
	Requests    int     `json:"requests"`
	OK          int     `json:"ok"`
	Errors      int     `json:"errors"`
	FirstError  string  `json:"first_error,omitempty"`
	DurationSec float64 `json:"duration_s"`
	TargetRate  float64 `json:"target_rps"`
	Achieved    float64 `json:"achieved_rps"`
	P50ms       float64 `json:"p50_ms"`
	P90ms       float64 `json:"p90_ms"`
	P99ms       float64 `json:"p99_ms"`
	Maxms       float64 `json:"max_ms"`
	// Dropped counts calls that could not even be scheduled because every worker was busy and
	// the queue (Concurrency × 4) was full: the server could not keep up with the rate.
	Dropped int `json:"dropped"`
}

// Run offers load as cfg says, calling fn for each request with a context that ends with ctx.
// It returns when every scheduled call has finished.
func Run(ctx context.Context, cfg Config, fn func(ctx context.Context) error) (Result, error) {
	if cfg.Rate <= 0 || cfg.Duration <= 0 || cfg.Concurrency <= 0 {
		return Result{}, errors.New("loadgen: rate, duration and concurrency must be positive")
	}
	type job struct{ at time.Time }
	jobs := make(chan job, cfg.Concurrency*4)
	var (
		mu        sync.Mutex
		latencies []time.Duration
		res       = Result{TargetRate: cfg.Rate}
		wg        sync.WaitGroup
	)
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				err := fn(ctx)
				lat := time.Since(j.at)
				mu.Lock()
				res.Requests++
				if err != nil {
					res.Errors++
					if res.FirstError == "" {
						res.FirstError = err.Error()
					}
				} else {
					res.OK++
					latencies = append(latencies, lat)
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	total := int(cfg.Rate * cfg.Duration.Seconds())
	lastProgress := start
schedule:
	for i := 0; i < total; i++ {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			select {
			case <-ctx.Done():
				break schedule
			case <-time.After(d):
			}
		}
		select {
		case jobs <- job{at: at}:
		default:
			mu.Lock()
			res.Dropped++
			mu.Unlock()
		}
		if cfg.Progress != nil && time.Since(lastProgress) >= time.Second {
			lastProgress = time.Now()
			mu.Lock()
			done, errs := res.Requests, res.Errors
			mu.Unlock()
			cfg.Progress(done, errs, time.Since(start))
		}
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	res.DurationSec = elapsed.Seconds()
	res.Achieved = float64(res.OK) / elapsed.Seconds()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	res.P50ms, res.P90ms, res.P99ms = ms(percentile(latencies, 0.50)), ms(percentile(latencies, 0.90)), ms(percentile(latencies, 0.99))
	if n := len(latencies); n > 0 {
		res.Maxms = ms(latencies[n-1])
	}
	return res, ctx.Err()
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// String is a one-line summary.
func (r Result) String() string {
	return fmt.Sprintf("%d requests (%d errors, %d dropped) in %.1fs: %.0f/s of %.0f/s; p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms",
		r.Requests, r.Errors, r.Dropped, r.DurationSec, r.Achieved, r.TargetRate, r.P50ms, r.P90ms, r.P99ms, r.Maxms)
}
