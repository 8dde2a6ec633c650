using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Akka.Dispatch;
using static TcpStore.Akka.EventLoops.LinuxNative;

namespace TcpStore.Akka.EventLoops;

/// <summary>Told by an <see cref="EventLoop"/>, on its thread, that a registered descriptor is ready.</summary>
internal interface IReadinessHandler
{
    /// <summary>The epoll events reported for the descriptor (<c>EPOLLIN</c>, <c>EPOLLOUT</c>, ...).</summary>
    void OnReadiness(uint events);
}

/// <summary>Work an <see cref="EventLoop"/> does once per iteration, after the queued work and before it waits.</summary>
internal interface IDeferredFlush
{
    void Flush();
}

/// <summary>
/// One event loop: a dedicated thread that waits in <c>epoll_wait</c> for the descriptors registered with it and,
/// between waits, runs the work queued to it (Akka mailboxes, through <see cref="EventLoopExecutor"/>), then the
/// flushes deferred to the end of the iteration (a connection's coalesced replies: one <c>send</c> each).
/// </summary>
/// <remarks>
/// <para>
/// Work queued from the loop's own thread (an actor on this loop telling another actor on this loop) goes to a plain
/// queue: no lock, no interlocked operation, no wake-up. Work from any other thread goes to a concurrent queue and
/// writes the loop's eventfd only when the loop is (about to be) asleep in <c>epoll_wait</c>; a loop that is running
/// finds it before it sleeps. The two sides of that hand-off are a Dekker pair: the producer enqueues, then reads
/// <c>_sleeping</c>; the loop sets <c>_sleeping</c>, then looks at the queue; both with a full fence in between, so
/// at least one of them sees the other.
/// </para>
/// <para>
/// Descriptors are registered edge-triggered by their owners (a connection stage, the listener), always on this
/// thread; an event carries the registration's slot and generation, so an event for a descriptor closed earlier in
/// the same batch is dropped rather than handed to whoever took the slot since.
/// </para>
/// </remarks>
internal sealed unsafe class EventLoop : IDisposable
{
    /// <summary>Runnables run per turn before the loop polls its descriptors again (without blocking) and flushes.</summary>
    private const int RunBudget = 1024;

    /// <summary>
    /// Flushes that end a turn early: in a burst (one client's SETs waking thousands of waiters) the replies leave
    /// in batches of this many connections instead of all after the whole burst was executed (waiters-5000 wake-up
    /// p99, three same-run triples: 1.32× libuv's without, 1.01× with; docs/PERFORMANCE.md).
    /// </summary>
    private const int FlushBatch = 64;

    private const int MaxEvents = 512;

    private const ulong WakeToken = ulong.MaxValue;

    [ThreadStatic]
    private static EventLoop? _current;

    private readonly Queue<IRunnable> _local = new();
    private readonly ConcurrentQueue<IRunnable> _remote = new();
    private readonly List<IDeferredFlush> _flushes = [];
    private readonly Action<Exception> _reportFailure;
    private readonly long _maxTurnTicks;
    private readonly Thread _thread;
    private readonly int _epoll;
    private readonly int _wake;
    private readonly void* _events;

    // Registrations: the handler of each slot and the slot's generation (bumped when it is freed).
    private IReadinessHandler?[] _handlers = new IReadinessHandler?[64];
    private uint[] _generations = new uint[64];
    private readonly Stack<int> _freeSlots = new();
    private int _slotsInUse;
    private int _slotsEverUsed;

    // 1 while the loop is in, or about to enter, a blocking epoll_wait: a producer on another thread then wakes it.
    private int _sleeping;
    private volatile bool _stopping;
    private long _wakeUps;

    // The eventfd is closed only when no thread is between deciding to write it and writing it: a late write to a
    // closed descriptor could hit whatever file took its number since.
    private int _wakersWriting;
    private int _wakeClosed;

    /// <param name="name">The thread's name.</param>
    /// <param name="reportFailure">Called (on the loop's thread) with an exception a runnable or handler let escape.</param>
    /// <param name="maxTurn">The longest the loop runs queued work before it flushes and polls its descriptors
    /// again (<c>tcpstore.tcp.event-loops.max-turn</c>).</param>
    public EventLoop(string name, Action<Exception> reportFailure, TimeSpan maxTurn)
    {
        Name = name;
        _reportFailure = reportFailure;
        _maxTurnTicks = (long)(maxTurn.TotalSeconds * Stopwatch.Frequency);
        _epoll = EpollCreate1(EpollCloExec);
        if (_epoll < 0) throw new InvalidOperationException($"epoll_create1 failed: errno {Marshal.GetLastPInvokeError()}");
        _wake = EventFd(0, EfdCloExec | EfdNonBlock);
        if (_wake < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            LinuxNative.Close(_epoll);
            throw new InvalidOperationException($"eventfd failed: errno {errno}");
        }

        var added = Control(_epoll, EpollCtlAdd, _wake, EpollIn, WakeToken);
        if (added != 0)
        {
            LinuxNative.Close(_wake);
            LinuxNative.Close(_epoll);
            throw new InvalidOperationException($"epoll_ctl(eventfd) failed: errno {added}");
        }

        _events = NativeMemory.Alloc((nuint)(MaxEvents * EpollEventSize));
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    public string Name { get; }

    /// <summary>Whether the calling thread is this loop's.</summary>
    public bool IsCurrent => _current == this;

    /// <summary>The loop whose thread is calling, if any.</summary>
    public static EventLoop? Current => _current;

    /// <summary>Registered descriptors (tests, status).</summary>
    public int Registrations => _slotsInUse;

    /// <summary>How often another thread had to wake the loop through its eventfd (tests).</summary>
    public long WakeUps => Interlocked.Read(ref _wakeUps);

    /// <summary>Whether the loop's thread still runs (it ends after <see cref="Dispose"/>).</summary>
    public bool IsRunning => _thread.IsAlive;

    /// <summary>Queues <paramref name="work"/>; from another thread, wakes the loop if it sleeps.</summary>
    public void Execute(IRunnable work)
    {
        if (_current == this)
        {
            _local.Enqueue(work);
            return;
        }

        _remote.Enqueue(work);
        // The enqueue above is an interlocked operation (a full fence) before this read: see the remarks.
        if (Volatile.Read(ref _sleeping) == 1 && Interlocked.Exchange(ref _sleeping, 0) == 1)
        {
            Interlocked.Increment(ref _wakeUps);
            Wake();
        }
    }

    /// <summary>
    /// Registers <paramref name="fd"/> for <paramref name="events"/> (add <see cref="LinuxNative.EpollEt"/> for
    /// edge-triggered); <paramref name="handler"/> is told of each readiness on this loop's thread.
    /// </summary>
    /// <returns>The registration, for <see cref="Modify"/> and <see cref="Unregister"/>.</returns>
    public int Register(int fd, uint events, IReadinessHandler handler)
    {
        EnsureCurrent();
        var fresh = !_freeSlots.TryPop(out var slot);
        if (fresh)
        {
            slot = _slotsEverUsed;
            if (slot == _handlers.Length)
            {
                Array.Resize(ref _handlers, slot * 2);
                Array.Resize(ref _generations, slot * 2);
            }
        }

        var errno = Control(_epoll, EpollCtlAdd, fd, events, Token(slot));
        if (errno != 0)
        {
            if (!fresh) _freeSlots.Push(slot);
            throw LinuxNative.SocketError(errno);
        }

        if (fresh) _slotsEverUsed++;
        _handlers[slot] = handler;
        _slotsInUse++;
        return slot;
    }

    /// <summary>Changes the events a registration waits for.</summary>
    /// <returns>0, or the errno of the failure.</returns>
    public int Modify(int registration, int fd, uint events)
    {
        EnsureCurrent();
        return Control(_epoll, EpollCtlMod, fd, events, Token(registration));
    }

    /// <summary>
    /// Ends a registration. With <paramref name="fdClosing"/> the descriptor is about to be closed, which removes it
    /// from epoll by itself (one system call fewer); its events still in this iteration's batch are dropped.
    /// </summary>
    public void Unregister(int registration, int fd, bool fdClosing)
    {
        EnsureCurrent();
        if (!fdClosing) Control(_epoll, EpollCtlDel, fd, 0, 0);
        _handlers[registration] = null;
        _generations[registration]++;
        _freeSlots.Push(registration);
        _slotsInUse--;
    }

    /// <summary>Runs <paramref name="flush"/> at the end of this iteration (on this loop's thread only).</summary>
    public void ScheduleFlush(IDeferredFlush flush)
    {
        EnsureCurrent();
        _flushes.Add(flush);
    }

    /// <summary>Stops the loop after the work already queued; waits for it unless called from the loop itself.</summary>
    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        Wake();
        if (!IsCurrent) _thread.Join(TimeSpan.FromSeconds(10));
    }

    private ulong Token(int slot) => (ulong)_generations[slot] << 32 | (uint)slot;

    private void EnsureCurrent()
    {
        if (_current != this)
            throw new InvalidOperationException($"Only event loop {Name}'s own thread may register descriptors with it.");
    }

    private void Wake()
    {
        Interlocked.Increment(ref _wakersWriting);
        try
        {
            if (Volatile.Read(ref _wakeClosed) != 0) return;
            ulong one = 1;
            // EAGAIN (the counter is saturated) cannot happen at one per wake-up; any failure leaves the loop to its
            // next wake-up, which a running loop does not need.
            LinuxNative.Write(_wake, &one, sizeof(ulong));
        }
        finally
        {
            Interlocked.Decrement(ref _wakersWriting);
        }
    }

    private void CloseWake()
    {
        Interlocked.Exchange(ref _wakeClosed, 1);
        var spin = new SpinWait();
        while (Volatile.Read(ref _wakersWriting) != 0) spin.SpinOnce();
        LinuxNative.Close(_wake);
    }

    private void Run()
    {
        _current = this;
        try
        {
            while (true)
            {
                var more = RunQueued();
                RunFlushes();
                if (_stopping && !more && _remote.IsEmpty) break;
                Poll(blocking: !more);
            }
        }
        finally
        {
            _current = null;
            CloseWake();
            LinuxNative.Close(_epoll);
            NativeMemory.Free(_events);
        }
    }

    /// <summary>Runs queued work up to the budget or the turn's time; true when some is left.</summary>
    private bool RunQueued()
    {
        var deadline = Stopwatch.GetTimestamp() + _maxTurnTicks;
        for (var i = 0; i < RunBudget; i++)
        {
            // Time, not only a count: in a storm one host turn materializes dozens of connections, and a turn of a
            // thousand such runs left the listening socket unpolled until the kernel's accept queue overflowed.
            if (i > 0 && Stopwatch.GetTimestamp() >= deadline) break;
            if (_flushes.Count >= FlushBatch) break;
            if (!_local.TryDequeue(out var work) && !_remote.TryDequeue(out work)) return false;
            try
            {
                work.Run();
            }
            catch (Exception e)
            {
                _reportFailure(e);
            }
        }

        return _local.Count > 0 || !_remote.IsEmpty;
    }

    private void RunFlushes()
    {
        // A flush never schedules another one (it runs outside any stage), so the list does not grow meanwhile.
        for (var i = 0; i < _flushes.Count; i++)
        {
            try
            {
                _flushes[i].Flush();
            }
            catch (Exception e)
            {
                _reportFailure(e);
            }
        }

        _flushes.Clear();
    }

    private void Poll(bool blocking)
    {
        var timeout = 0;
        if (blocking)
        {
            Interlocked.Exchange(ref _sleeping, 1);
            // Full fence above, then the queue: work queued before it is seen here, later work wakes us.
            if (_remote.IsEmpty && !_stopping) timeout = -1;
            else Volatile.Write(ref _sleeping, 0);
        }

        var count = EpollWait(_epoll, _events, MaxEvents, timeout);
        if (timeout != 0) Volatile.Write(ref _sleeping, 0);
        if (count < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno != Eintr) _reportFailure(new InvalidOperationException($"epoll_wait failed: errno {errno}"));
            return;
        }

        for (var i = 0; i < count; i++)
        {
            var (events, data) = EventAt(_events, i);
            if (data == WakeToken)
            {
                ulong counter;
                LinuxNative.Read(_wake, &counter, sizeof(ulong));
                continue;
            }

            var slot = (int)(uint)data;
            var handler = _handlers[slot];
            if (handler is null || _generations[slot] != (uint)(data >> 32)) continue; // closed earlier in this batch
            try
            {
                handler.OnReadiness(events);
            }
            catch (Exception e)
            {
                _reportFailure(e);
            }
        }
    }
}
