package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// logger returns the run's logger: JSON lines (slog.JSONHandler) with
// --log-format json, else one plain line per record.
func (a *app) logger() *slog.Logger {
	if a.log != nil {
		return a.log
	}
	if a.g.logFormat == "json" {
		a.log = slog.New(slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	} else {
		a.log = slog.New(&lineHandler{w: a.stderr, mu: &sync.Mutex{}})
	}
	return a.log
}

// lineHandler prints a record as a command-line tool does:
// "keyport encrypt: warning: message key=value". slog.TextHandler would print
// time=... level=... msg=..., which is for log files, not for a person at a
// terminal; hence these few lines.
type lineHandler struct {
	w     io.Writer
	mu    *sync.Mutex
	attrs []slog.Attr
}

// hidden attributes are part of the message already, or only for JSON.
var hidden = map[string]bool{"command": true, "kind": true, "key": true, "usage": true}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	prefix := "keyport"
	var extra []string
	add := func(a slog.Attr) bool {
		switch {
		case a.Key == "command":
			prefix = a.Value.String()
		case !hidden[a.Key]:
			extra = append(extra, fmt.Sprintf("%s=%q", a.Key, a.Value.String()))
		}
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	var b strings.Builder
	b.WriteString(prefix + ": ")
	if r.Level == slog.LevelWarn {
		b.WriteString("warning: ")
	}
	b.WriteString(r.Message)
	for _, e := range extra {
		b.WriteString(" " + e)
	}
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *lineHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &lineHandler{w: h.w, mu: h.mu, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h *lineHandler) WithGroup(string) slog.Handler { return h }
