using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Akka.Dispatch;
using TcpStore.Akka.EventLoops;

namespace TcpStore.Akka.Tests.EventLoops;

/// <summary>
/// One <see cref="EventLoop"/> on its own: work queued from anywhere runs on its thread, a thread outside wakes it
/// only when it sleeps, descriptors report readiness on its thread, and nothing a runnable throws stops it.
/// </summary>
public sealed class EventLoopTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly ConcurrentQueue<Exception> _failures = new();
    private readonly EventLoop _loop;

    public EventLoopTests() => _loop = new EventLoop("test-loop", _failures.Enqueue, TimeSpan.FromMilliseconds(1));

    public void Dispose() => _loop.Dispose();

    private Task<T> OnLoop<T>(Func<T> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _loop.Execute(new ActionRunnable(() =>
        {
            try
            {
                done.SetResult(work());
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }));
        return done.Task;
    }

    [Fact]
    public async Task Work_queued_from_another_thread_runs_on_the_loop_thread()
    {
        var (name, current) = await OnLoop(() => (Thread.CurrentThread.Name, _loop.IsCurrent)).WaitAsync(Timeout);
        Assert.Equal("test-loop", name);
        Assert.True(current);
        Assert.False(_loop.IsCurrent);
    }

    [Fact]
    public async Task Work_queued_on_the_loop_runs_after_the_current_work_in_order()
    {
        var order = await OnLoop(() =>
        {
            var seen = new List<int>();
            var done = new TaskCompletionSource<List<int>>();
            for (var i = 0; i < 3; i++)
            {
                var n = i;
                _loop.Execute(new ActionRunnable(() => seen.Add(n)));
            }

            _loop.Execute(new ActionRunnable(() => done.SetResult(seen)));
            seen.Add(-1); // still in the current work: the queued work has not run
            return done.Task;
        }).Unwrap().WaitAsync(Timeout);
        Assert.Equal([-1, 0, 1, 2], order);
    }

    [Fact]
    public async Task A_thread_outside_wakes_the_loop_only_when_it_sleeps()
    {
        // Idle: the loop sleeps in epoll_wait, so the first work from outside must wake it.
        await OnLoop(() => 0).WaitAsync(Timeout);
        var before = _loop.WakeUps;
        using var release = new ManualResetEventSlim();
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _loop.Execute(new ActionRunnable(() =>
        {
            running.SetResult();
            release.Wait(Timeout); // the loop is busy (a test may block it; the product never does)
        }));
        await running.Task.WaitAsync(Timeout);
        var ran = 0;
        for (var i = 0; i < 100; i++) _loop.Execute(new ActionRunnable(() => Interlocked.Increment(ref ran)));
        release.Set();
        await OnLoop(() => 0).WaitAsync(Timeout);
        Assert.Equal(100, ran);
        // None for the 100 queued while the loop was awake (waking each would be 100 more); one for the blocking
        // work and one for the final probe at most, each only if the loop had fallen asleep before it.
        Assert.InRange(_loop.WakeUps - before, 0, 2);
    }

    [Fact]
    public async Task A_registered_socket_reports_readiness_on_the_loop_thread()
    {
        using var pair = await ConnectedPairAsync();
        var fd = (int)pair.Server.Handle;

        var reported = new ReadinessRecorder(_loop);
        var registration = await OnLoop(() => _loop.Register(fd, LinuxNative.EpollIn | LinuxNative.EpollEt, reported))
            .WaitAsync(Timeout);
        Assert.Equal(1, await OnLoop(() => _loop.Registrations).WaitAsync(Timeout));

        await pair.Client.SendAsync(new byte[] { 1 });
        var (events, onLoop) = await reported.Next.WaitAsync(Timeout);
        Assert.True((events & LinuxNative.EpollIn) != 0);
        Assert.True(onLoop);

        await OnLoop(() =>
        {
            _loop.Unregister(registration, fd, fdClosing: false);
            return 0;
        }).WaitAsync(Timeout);
        Assert.Equal(0, await OnLoop(() => _loop.Registrations).WaitAsync(Timeout));
    }

    [Fact]
    public async Task A_long_chain_of_work_lets_the_loop_poll_its_sockets_between_turns()
    {
        using var pair = await ConnectedPairAsync();
        var fd = (int)pair.Server.Handle;
        var reported = new ReadinessRecorder(_loop);
        await OnLoop(() => _loop.Register(fd, LinuxNative.EpollIn | LinuxNative.EpollEt, reported)).WaitAsync(Timeout);

        // 500 items of 1 ms each, every one queued by the one before (a busy actor's turns): far more than the
        // 1 ms turn, far fewer than the turn's count budget (1,024).
        const int chain = 500;
        var ran = 0;
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Step()
        {
            started.TrySetResult();
            var spin = Stopwatch.StartNew();
            while (spin.Elapsed < TimeSpan.FromMilliseconds(1)) Thread.SpinWait(10);
            if (Interlocked.Increment(ref ran) == chain) done.SetResult();
            else _loop.Execute(new ActionRunnable(Step));
        }

        _loop.Execute(new ActionRunnable(Step));
        await started.Task.WaitAsync(Timeout); // the chain runs: the bytes below arrive in the middle of it
        await pair.Client.SendAsync(new byte[] { 1 });
        await reported.Next.WaitAsync(Timeout);
        var ranWhenReported = Volatile.Read(ref ran);
        await done.Task.WaitAsync(Timeout);
        Assert.True(ranWhenReported < chain / 2,
            $"the readiness was reported after {ranWhenReported} of {chain} chained work items");
    }

    [Fact]
    public void Only_the_loop_thread_may_register()
    {
        Assert.Throws<InvalidOperationException>(() => _loop.Register(0, LinuxNative.EpollIn, new ReadinessRecorder(_loop)));
    }

    [Fact]
    public async Task Work_that_throws_is_reported_and_the_loop_carries_on()
    {
        _loop.Execute(new ActionRunnable(() => throw new InvalidOperationException("boom")));
        Assert.Equal(42, await OnLoop(() => 42).WaitAsync(Timeout));
        Assert.Contains(_failures, e => e.Message == "boom");
    }

    [Fact]
    public async Task Dispose_runs_what_is_queued_then_ends_the_thread()
    {
        var ran = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _loop.Execute(new ActionRunnable(ran.SetResult));
        _loop.Dispose();
        await ran.Task.WaitAsync(Timeout);
        Assert.False(_loop.IsRunning);
    }

    /// <summary>A connected pair of loopback sockets: the client, and the server's end to register.</summary>
    private static async Task<SocketPair> ConnectedPairAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        return new SocketPair(client, await listener.AcceptAsync());
    }

    private sealed record SocketPair(Socket Client, Socket Server) : IDisposable
    {
        public void Dispose()
        {
            Client.Dispose();
            Server.Dispose();
        }
    }

    private sealed class ReadinessRecorder(EventLoop loop) : IReadinessHandler
    {
        private readonly TaskCompletionSource<(uint, bool)> _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<(uint Events, bool OnLoop)> Next => _next.Task;

        public void OnReadiness(uint events) => _next.TrySetResult((events, loop.IsCurrent));
    }
}
