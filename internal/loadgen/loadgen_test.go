package loadgen

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunCountsEveryCall(t *testing.T) {
	var calls atomic.Int64
	res, err := Run(context.Background(), Config{Rate: 200, Duration: 500 * time.Millisecond, Concurrency: 4}, func(context.Context) error {
		if calls.Add(1)%10 == 0 {
			return errors.New("every tenth fails")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests+res.Dropped != 100 || int64(res.Requests) != calls.Load() {
		t.Fatalf("scheduled 100, got requests %d + dropped %d (calls %d)", res.Requests, res.Dropped, calls.Load())
	}
	if res.Errors != res.Requests/10 || res.OK+res.Errors != res.Requests || res.FirstError == "" {
		t.Fatalf("result %+v", res)
	}
	if res.P50ms > res.P99ms || res.P99ms > res.Maxms {
		t.Fatalf("percentiles out of order: %+v", res)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	for _, c := range []Config{{}, {Rate: 1, Duration: time.Second}, {Rate: 1, Concurrency: 1}, {Duration: time.Second, Concurrency: 1}} {
		if _, err := Run(context.Background(), c, func(context.Context) error { return nil }); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}

func TestRunStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := Run(ctx, Config{Rate: 1000, Duration: time.Hour, Concurrency: 2}, func(context.Context) error { return nil })
	if !errors.Is(err, context.Canceled) || res.Requests > 1 {
		t.Fatalf("after cancel: %v, %d requests", err, res.Requests)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if percentile(d, 0.5) != 50*time.Millisecond || percentile(d, 0.99) != 99*time.Millisecond || percentile(nil, 0.5) != 0 {
		t.Fatal("percentiles")
	}
}
