package console

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
)

//go:embed assets
var assets embed.FS

type pageTemplate = template.Template

func parsePage() (*pageTemplate, error) {
	t, err := template.New("index.html").Funcs(template.FuncMap{
		"bytes": fmtBytes,
		"lsn":   fmtLSN,
		"age":   fmtAge,
		"lag":   fmtLag,
	}).ParseFS(assets, "assets/index.html")
	if err != nil {
		return nil, fmt.Errorf("console: page template: %w", err)
	}
	return t, nil
}

// handler routes the console's requests: the page, its JSON and its static files, behind the
// checks of where the console listens.
func (s *Server) handler() http.Handler {
	static, _ := fs.Sub(assets, "assets/static") // a fixed embedded path: cannot fail
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.servePage)
	mux.HandleFunc("GET /api/cluster", s.serveJSON)
	mux.HandleFunc("GET /api/targets", s.serveTargets)
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if s.loopback && !loopbackHost(r.Host) {
			http.Error(w, "the console answers only requests addressed to a loopback host", http.StatusForbidden)
			return
		}
		if !s.loopback && !s.authorized(r) {
			h.Set("WWW-Authenticate", `Basic realm="strata console", charset="UTF-8"`)
			http.Error(w, "the cluster secret or the console password is required (basic authentication or bearer token)", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) servePage(w http.ResponseWriter, r *http.Request) {
	var b bytes.Buffer
	if err := s.page.Execute(&b, s.view(r.Context())); err != nil {
		s.opts.Logger.Error("console: render the page", "err", err)
		http.Error(w, "cannot render the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b.Bytes())
}

func (s *Server) serveJSON(w http.ResponseWriter, r *http.Request) {
	b, err := json.Marshal(s.view(r.Context()))
	if err != nil {
		s.opts.Logger.Error("console: encode the view", "err", err)
		http.Error(w, "cannot encode the view", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}

// fmtBytes writes a byte count in binary units: "1.5 MiB".
func fmtBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + " B"
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + []string{"KiB", "MiB", "GiB", "TiB", "PiB"}[i]
}

// fmtLSN writes a log position, "-" for none.
func fmtLSN(n uint64) string {
	if n == 0 {
		return "-"
	}
	return strconv.FormatUint(n, 10)
}

// fmtAge writes a heartbeat's age, "-" for none.
func fmtAge(a *float64) string {
	if a == nil {
		return "-"
	}
	return strconv.FormatFloat(*a, 'f', 1, 64) + " s"
}

// fmtLag writes a lag in bytes, "-" for none.
func fmtLag(l *uint64) string {
	if l == nil {
		return "-"
	}
	return fmtBytes(*l)
}
