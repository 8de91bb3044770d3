package stream

import (
	"context"
	"errors"
	"testing"
)

func TestMemory(t *testing.T) {
	var m Memory
	ctx := context.Background()
	v := []byte("a")
	if err := m.Produce(ctx, "t", [][]byte{v, []byte("b")}); err != nil {
		t.Fatal(err)
	}
	v[0] = 'x' // the caller reuses its buffer
	if err := m.Produce(ctx, "t", [][]byte{[]byte("c")}); err != nil {
		t.Fatal(err)
	}
	got := m.Messages("t")
	if len(got) != 3 {
		t.Fatalf("%d messages", len(got))
	}
	for i, want := range []string{"a", "b", "c"} {
		if string(got[i].Value) != want || got[i].Offset != int64(i) || got[i].Topic != "t" {
			t.Errorf("message %d = %+v, want %q at offset %d", i, got[i], want, i)
		}
	}
	if len(m.Messages("other")) != 0 {
		t.Error("messages in an unused topic")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := m.Produce(cctx, "t", [][]byte{v}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
	_ = m.Close()
	if err := m.Produce(ctx, "t", [][]byte{v}); !errors.Is(err, ErrClosed) {
		t.Errorf("closed: err = %v", err)
	}
	var _ Producer = ProducerFunc(func(context.Context, string, [][]byte) error { return nil })
}
