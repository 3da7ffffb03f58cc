package content

import (
	"container/list"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A read lease on the bundle file lets Bundle send chunks it has verified
// once straight from the page cache, without reading and hashing them
// again, while the file is known to be unchanged:
//
//   - The kernel grants a read lease (fcntl F_SETLEASE F_RDLCK) only while
//     nobody has the file open for writing, and only to its owner or a
//     process with CAP_LEASE, on a file system that supports leases (not
//     NFS). Any later open for writing, or truncate, waits until the
//     holder gives the lease up, or fs.lease-break-time seconds pass, and
//     the holder gets SIGIO. Writing to the file's pages takes a file
//     opened for writing (a shared writable mapping too keeps one open),
//     so while the lease is held the file does not change.
//   - A generation is the time between taking the lease and giving it up.
//     Its bitmap records the chunks read and verified in it. A chunk marked
//     there is sent from the generation's read-only mapping of the file,
//     with write(2) on the socket, which copies the bytes when called: no
//     byte leaves the page cache after the call returns (sendfile would
//     leave page references in the socket's queue, read after the lease
//     may be gone).
//   - When the lease breaks (SIGIO, or the check before every chunk, or a
//     once-a-second poll), the generation is marked broken: no new write
//     from its mapping starts. The writes in flight are waited for (each
//     ends within the server's write stall, 20 s, under the 45 s the
//     kernel gives); any still going after half of fs.lease-break-time
//     find the mapping replaced by an inaccessible one (their write fails
//     with EFAULT and the response is cut). Only then is the lease given
//     up, and with it the bitmap. The writer's open returns after that.
//   - Without a lease (refused, or broken and not yet taken again), chunks
//     take the path every chunk took before: read, verify, send the
//     verified copy. The lease is tried again at most once a second.
//
// So every byte sent from the mapping matched its digest when it was read
// after the lease was taken, and the file has not changed since.

// leaseRetry is how long after a failed or broken lease the next attempt
// waits.
const leaseRetry = time.Second

// leasePoll is how often a held lease is checked, besides SIGIO.
const leasePoll = time.Second

// minLeaseBreakTime is the shortest fs.lease-break-time a lease is taken
// with: the writes in flight must end (or be cut) before the kernel gives
// the lease away on its own.
const minLeaseBreakTime = 10 * time.Second

// MappedBudget bounds the bytes of a leased bundle file that the server
// keeps mapped in its own page tables (which count as its resident memory,
// although they are the page cache's): chunks sent longest ago are
// unmapped (their pages stay in the page cache).
const MappedBudget = 32 << 20

// fileLease takes and keeps a read lease on one bundle file, one
// generation at a time.
type fileLease struct {
	file   *os.File // the bundle Reader's file: the lease is taken on another descriptor of it
	frames int

	mu     sync.Mutex
	gen    *leaseGen
	next   time.Time // no attempt to take the lease before
	closed bool
	err    error // why the last attempt failed, for tests and diagnostics

	// drainWait is how long a break waits for the writes in flight before
	// it cuts them off: half of fs.lease-break-time when zero.
	drainWait time.Duration
}

// leaseGen is one held lease: a descriptor of the file holding it, the
// file mapped, and the frames verified since the lease was taken.
type leaseGen struct {
	f        *os.File
	fd       int    // f's descriptor, kept so that no call races with f.Close
	data     []byte // the file, mapped read-only
	verified []atomic.Uint64
	inflight atomic.Int64
	broken   atomic.Bool
	wake     chan struct{} // asks the watcher to check the lease now
	stopped  chan struct{} // closed once the lease is given up
	sig      chan os.Signal

	resMu    sync.Mutex
	resident list.List // of int, frames mapped in, most recent first
	byFrame  map[int]*list.Element
	extent   map[int][2]int64 // a resident frame's range of the mapping
	resBytes int64
}

// current returns the held generation, taking the lease when there is none
// and the last attempt is old enough; nil when there is no lease. It also
// asks the kernel whether the lease is still held (a break in progress
// reads as unlocked), so that a break is noticed at the next chunk even
// before the signal is handled.
func (l *fileLease) current() *leaseGen {
	l.mu.Lock()
	g := l.gen
	if g == nil && !l.closed && !time.Now().Before(l.next) {
		g, l.err = l.take()
		l.gen = g
		if g == nil {
			l.next = time.Now().Add(leaseRetry)
		}
	}
	l.mu.Unlock()
	if g == nil {
		return nil
	}
	if !g.held() {
		g.kick()
		return nil
	}
	return g
}

// take opens another descriptor of the file, takes the read lease on it
// and maps the file.
func (l *fileLease) take() (*leaseGen, error) {
	if bt, err := leaseBreakTime(); err != nil || bt < minLeaseBreakTime {
		return nil, fmt.Errorf("fs.lease-break-time is %v (%v), less than %v", bt, err, minLeaseBreakTime)
	}
	fd, err := fdOf(l.file)
	if err != nil {
		return nil, err
	}
	// The same open file, whatever its path has become since.
	f, err := os.Open("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return nil, err
	}
	g, err := l.lease(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	go g.watch(l)
	return g, nil
}

func (l *fileLease) lease(f *os.File) (*leaseGen, error) {
	own, err := fdOf(f)
	if err != nil {
		return nil, err
	}
	var a, b unix.Stat_t
	if err := unix.Fstat(own, &a); err != nil {
		return nil, err
	}
	fd, err := fdOf(l.file)
	if err != nil {
		return nil, err
	}
	if err := unix.Fstat(fd, &b); err != nil {
		return nil, err
	}
	if a.Dev != b.Dev || a.Ino != b.Ino || a.Size <= 0 {
		return nil, errors.New("not the bundle's file, or empty")
	}
	g := &leaseGen{f: f, fd: own, verified: make([]atomic.Uint64, (l.frames+63)/64), wake: make(chan struct{}, 1),
		stopped: make(chan struct{}), sig: make(chan os.Signal, 1), byFrame: map[int]*list.Element{}, extent: map[int][2]int64{}}
	// Listen before the lease exists, so no break goes unseen.
	signal.Notify(g.sig, unix.SIGIO)
	if _, err := unix.FcntlInt(uintptr(own), unix.F_SETLEASE, unix.F_RDLCK); err != nil {
		signal.Stop(g.sig)
		return nil, fmt.Errorf("read lease: %w", err)
	}
	p, err := unix.MmapPtr(own, 0, nil, uintptr(a.Size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		unix.FcntlInt(uintptr(own), unix.F_SETLEASE, unix.F_UNLCK)
		signal.Stop(g.sig)
		return nil, fmt.Errorf("mapping the bundle: %w", err)
	}
	g.data = unsafe.Slice((*byte)(p), a.Size)
	return g, nil
}

// fdOf returns f's descriptor without putting it in blocking mode (as Fd
// would).
func fdOf(f *os.File) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var fd int
	if err := rc.Control(func(u uintptr) { fd = int(u) }); err != nil {
		return 0, err
	}
	return fd, nil
}

// leaseBreakTime reads fs.lease-break-time.
func leaseBreakTime() (time.Duration, error) {
	b, err := os.ReadFile("/proc/sys/fs/lease-break-time")
	if err != nil {
		return 0, err
	}
	s, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return time.Duration(s) * time.Second, err
}

// held asks the kernel whether the lease is still held and no break is
// under way.
func (g *leaseGen) held() bool {
	if g.broken.Load() {
		return false
	}
	t, err := unix.FcntlInt(uintptr(g.fd), unix.F_GETLEASE, 0)
	return err == nil && t == unix.F_RDLCK
}

// kick asks the watcher to check the lease now.
func (g *leaseGen) kick() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// watch ends the generation when the lease breaks (SIGIO, a kick, or the
// poll finds it so) or the Bundle is closed.
func (g *leaseGen) watch(l *fileLease) {
	t := time.NewTicker(leasePoll)
	defer t.Stop()
	for {
		select {
		case <-g.sig:
		case <-g.wake:
		case <-t.C:
		}
		l.mu.Lock()
		closed := l.closed
		l.mu.Unlock()
		if closed || !g.held() {
			l.end(g)
			return
		}
	}
}

// end gives up generation g: no new write from its mapping starts, the
// writes in flight end or are cut off, then the lease goes.
func (l *fileLease) end(g *leaseGen) {
	l.mu.Lock()
	if l.gen == g {
		l.gen = nil
		l.next = time.Now().Add(leaseRetry)
	}
	l.mu.Unlock()
	g.broken.Store(true)
	wait := l.drainWait
	if wait == 0 {
		wait = minLeaseBreakTime / 2
		if bt, err := leaseBreakTime(); err == nil {
			wait = bt / 2
		}
	}
	g.drain(time.Now().Add(wait))
	// Whatever still reads the mapping now faults: replace it with an
	// inaccessible one before the lease (and the file) is let go.
	p := unsafe.Pointer(unsafe.SliceData(g.data))
	if _, err := unix.MmapPtr(-1, 0, p, uintptr(len(g.data)), unix.PROT_NONE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED); err != nil {
		// Cannot happen for a range we mapped; unmapping it serves as well.
		unix.MunmapPtr(p, uintptr(len(g.data)))
	}
	unix.FcntlInt(uintptr(g.fd), unix.F_SETLEASE, unix.F_UNLCK)
	signal.Stop(g.sig)
	g.f.Close()
	close(g.stopped)
	g.drain(time.Time{})
	unix.MunmapPtr(p, uintptr(len(g.data)))
}

// drain waits until no write from the mapping is under way, or deadline
// passes (the zero time: no deadline).
func (g *leaseGen) drain(deadline time.Time) {
	for g.inflight.Load() > 0 && (deadline.IsZero() || time.Now().Before(deadline)) {
		time.Sleep(time.Millisecond)
	}
}

// enter starts a use of the mapping; false when the generation is over.
// Every true enter is followed by one leave.
func (g *leaseGen) enter() bool {
	g.inflight.Add(1)
	if g.broken.Load() {
		g.inflight.Add(-1)
		return false
	}
	return true
}

func (g *leaseGen) leave() { g.inflight.Add(-1) }

// isVerified tells whether frame i was verified in this generation.
func (g *leaseGen) isVerified(i int) bool {
	return i/64 < len(g.verified) && g.verified[i/64].Load()&(1<<(i%64)) != 0
}

// markVerified records frame i, read after the lease was taken and
// verified, unless the generation is already over.
func (g *leaseGen) markVerified(i int) {
	if i/64 < len(g.verified) && !g.broken.Load() {
		g.verified[i/64].Or(1 << (i % 64))
	}
}

// mapped records that frame i's range [lo, hi) of the mapping was just
// read, and unmaps the frames read longest ago beyond MappedBudget (their
// pages stay in the page cache). Call it between enter and leave: a
// mapping given up may already hold something else.
func (g *leaseGen) mapped(i int, lo, hi int64) {
	g.resMu.Lock()
	defer g.resMu.Unlock()
	if e, ok := g.byFrame[i]; ok {
		g.resident.MoveToFront(e)
		return
	}
	g.byFrame[i] = g.resident.PushFront(i)
	g.extent[i] = [2]int64{lo, hi}
	g.resBytes += hi - lo
	for g.resBytes > MappedBudget && g.resident.Len() > 1 {
		old := g.resident.Remove(g.resident.Back()).(int)
		ext := g.extent[old]
		delete(g.byFrame, old)
		delete(g.extent, old)
		g.resBytes -= ext[1] - ext[0]
		page := int64(os.Getpagesize())
		lo, hi := ext[0]&^(page-1), min((ext[1]+page-1)&^(page-1), int64(len(g.data)))
		unix.Madvise(g.data[lo:hi], unix.MADV_DONTNEED)
	}
}

// close ends the lease, if held, and stops taking it.
func (l *fileLease) close() {
	l.mu.Lock()
	l.closed = true
	g := l.gen
	l.mu.Unlock()
	if g != nil {
		g.kick()
		<-g.stopped
	}
}
