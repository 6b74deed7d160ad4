package registry

import (
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// sendChunk is how much is handed to sendfile(2) per write-deadline
// extension. A client slower than sendChunk per idle timeout (1 MiB per 60 s
// by default, ~17 KiB/s) is dropped; anything faster is never cut off.
const sendChunk = 1 << 20

// progressReader extends the connection's read deadline while the body keeps
// arriving, so an upload is limited by inactivity, never by total duration.
type progressReader struct {
	r    io.Reader
	rc   *http.ResponseController
	idle time.Duration
	next time.Time
}

func (h *Handler) uploadBody(c echo.Context) io.Reader {
	p := &progressReader{r: c.Request().Body, rc: http.NewResponseController(c.Response()), idle: h.idle}
	p.extend(time.Now())
	return p
}

func (p *progressReader) extend(now time.Time) {
	_ = p.rc.SetReadDeadline(now.Add(p.idle))
	// Nothing is written while a body streams in; keep the response
	// writable for when it ends.
	_ = p.rc.SetWriteDeadline(now.Add(p.idle + 30*time.Second))
	p.next = now.Add(time.Second)
}

func (p *progressReader) Read(b []byte) (int, error) {
	if now := time.Now(); now.After(p.next) {
		p.extend(now)
	}
	return p.r.Read(b)
}

// blobWriter is the ResponseWriter given to http.ServeContent for blobs. It
// passes ServeContent's (*io.LimitedReader of *os.File) copies straight to
// the connection's ReadFrom, which uses sendfile(2), in chunks, extending
// the write deadline before each chunk. echo's Response does not implement
// io.ReaderFrom itself, so without this every byte would be copied through
// user space.
type blobWriter struct {
	*echo.Response
	rc   *http.ResponseController
	idle time.Duration
}

func (h *Handler) newBlobWriter(c echo.Context) *blobWriter {
	return &blobWriter{Response: c.Response(), rc: http.NewResponseController(c.Response()), idle: h.idle}
}

func (w *blobWriter) ReadFrom(src io.Reader) (int64, error) {
	if !w.Committed {
		w.WriteHeader(http.StatusOK)
	}
	rf, ok := w.Response.Writer.(io.ReaderFrom)
	lr, limited := src.(*io.LimitedReader)
	if !ok || !limited {
		_ = w.rc.SetWriteDeadline(time.Now().Add(w.idle))
		return io.Copy(writerOnly{w}, src)
	}
	var total int64
	for lr.N > 0 {
		_ = w.rc.SetWriteDeadline(time.Now().Add(w.idle))
		n, err := rf.ReadFrom(&io.LimitedReader{R: lr.R, N: min(lr.N, sendChunk)})
		lr.N -= n
		total += n
		w.Size += n
		if err != nil {
			return total, err
		}
		if n == 0 {
			break
		}
	}
	return total, nil
}

// writerOnly hides ReadFrom so io.Copy does not recurse into it.
type writerOnly struct{ w io.Writer }

func (w writerOnly) Write(p []byte) (int, error) { return w.w.Write(p) }
