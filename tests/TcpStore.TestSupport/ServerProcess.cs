using System.Diagnostics;
using System.Runtime.InteropServices;

namespace TcpStore.TestSupport;

/// <summary>
/// The server (<c>tcpstore-server</c>) as a process, as a user starts it. Both output streams are read on their own
/// into a buffer, so a test can wait for a log line on any node at any time; a wait wakes on each line read (it does
/// not poll) and every wait is bounded. <see cref="DisposeAsync"/> kills the process.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly List<string> _lines = [];
    private readonly Task _readers;

    // Completed, and replaced, each time a line is read: what a wait for a line awaits.
    private TaskCompletionSource _lineRead = NewSignal();

    private ServerProcess(string name, Process process)
    {
        Name = name;
        Process = process;
        _readers = Task.WhenAll(Pump(process.StandardOutput, ""), Pump(process.StandardError, "[stderr] "));
    }

    /// <summary>A short name for messages (A, B, C, standalone); a cluster may rename its nodes once it knows their roles.</summary>
    public string Name { get; set; }

    /// <summary>The node's place in the cluster that started it (its ports' index).</summary>
    public int Index { get; set; }

    public Process Process { get; }

    /// <summary>The TCP (store) port from the <c>READY &lt;port&gt;</c> line; 0 until it was seen.</summary>
    public int Port { get; private set; }

    public bool HasExited => Process.HasExited;

    /// <summary>
    /// Runs <paramref name="assembly"/> with <paramref name="args"/>: the path of <c>tcpstore-server.dll</c>, or of
    /// the <c>tcpstore</c> CLI with <c>serve</c> (see <see cref="BuiltAssembly"/>). The TCPSTORE_* variables of this
    /// process are not passed on; <c>TCPSTORE_TEST_TRANSPORT</c> becomes <c>--transport</c> unless the test gives one.
    /// </summary>
    public static ServerProcess Start(string assembly, string name, params string[] args) =>
        StartVia(["dotnet"], assembly, name, args);

    /// <summary>
    /// Like <see cref="Start"/>, but through <paramref name="launcher"/>: a command that runs <c>dotnet</c>, e.g.
    /// <c>nsenter --net=/proc/PID/ns/net dotnet</c> to start the server in another network namespace.
    /// </summary>
    public static ServerProcess StartVia(IReadOnlyList<string> launcher, string assembly, string name, params string[] args)
    {
        var info = new ProcessStartInfo(launcher[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var part in launcher.Skip(1)) info.ArgumentList.Add(part);
        info.ArgumentList.Add(assembly);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        // The transport of a run of the whole solution (TestStoreServer.DefaultTransport), unless the test names one.
        if (TestStoreServer.DefaultTransport is { } transport && !args.Contains("--transport"))
        {
            info.ArgumentList.Add("--transport");
            info.ArgumentList.Add(transport);
        }
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("TCPSTORE_", StringComparison.Ordinal)).ToList())
            info.Environment.Remove(key);
        return new ServerProcess(name, Process.Start(info) ?? throw new InvalidOperationException("could not start the server"));
    }

    /// <summary>A copy of every line read so far (standard error's prefixed with <c>[stderr]</c>), in the order read.</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_gate) return _lines.ToList();
        }
    }

    /// <summary>Waits (at most <paramref name="timeout"/>) for <c>READY &lt;port&gt;</c> and returns the port.</summary>
    public async Task<int> WaitForReadyAsync(TimeSpan timeout)
    {
        var line = await WaitForLineAsync(l => l.StartsWith("READY ", StringComparison.Ordinal), timeout, "READY");
        return Port = int.Parse(line[6..]);
    }

    /// <summary>
    /// The first line (already read or still to come) that contains <paramref name="text"/>; throws with the output
    /// when none comes within <paramref name="timeout"/> or the process ends its output first.
    /// </summary>
    public Task<string> WaitForLineAsync(string text, TimeSpan timeout) =>
        WaitForLineAsync(l => l.Contains(text, StringComparison.Ordinal), timeout, text);

    public Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout, string what) =>
        WaitForLineOnAnyAsync([this], match, timeout, what);

    /// <summary>
    /// The first line with <paramref name="text"/> on whichever of <paramref name="nodes"/> logs it; throws when none
    /// does within <paramref name="timeout"/> or one of them ends its output (exits) first.
    /// </summary>
    public static Task<string> WaitForLineOnAnyAsync(IReadOnlyCollection<ServerProcess> nodes, string text, TimeSpan timeout) =>
        WaitForLineOnAnyAsync(nodes, l => l.Contains(text, StringComparison.Ordinal), timeout, text);

    private static async Task<string> WaitForLineOnAnyAsync(
        IReadOnlyCollection<ServerProcess> nodes, Func<string, bool> match, TimeSpan timeout, string what)
    {
        using var deadline = new CancellationTokenSource(timeout);
        while (true)
        {
            // Taken before the lines are searched, so a line read in between still wakes the wait below.
            var output = Task.WhenAny(nodes.Select(n => n.NextOutput()));
            foreach (var node in nodes)
            {
                if (node.FirstLine(match) is { } found) return found;
            }

            if (nodes.FirstOrDefault(n => n._readers.IsCompleted) is { } ended)
            {
                throw new InvalidOperationException(
                    $"node {ended.Name} exited ({await ended.ExitCodeTextAsync()}) before a line with \"{what}\":\n{ended.Tail()}");
            }

            try
            {
                await output.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested)
            {
                throw new TimeoutException($"no line with \"{what}\" within {timeout.TotalSeconds:0} s on " +
                                           $"{string.Join(", ", nodes.Select(n => n.Name))}:\n" +
                                           string.Join('\n', nodes.Select(n => n.Tail(nodes.Count == 1 ? 60 : 20))));
            }
        }
    }

    /// <summary>
    /// Waits (at most <paramref name="timeout"/>) for the process to exit on its own, then for the rest of its output,
    /// and returns its exit code.
    /// </summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var exit = new CancellationTokenSource(timeout);
        try
        {
            await Process.WaitForExitAsync(exit.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"node {Name} did not exit within {timeout.TotalSeconds:0} s:\n{Tail()}");
        }

        await _readers.WaitAsync(TimeSpan.FromSeconds(10));
        return Process.ExitCode;
    }

    /// <summary>
    /// SIGTERM, as a user stops the server; waits (at most <paramref name="timeout"/>) for the exit and the rest of the
    /// output and returns the exit code. A server that does not exit in time is killed, so its code is not 0.
    /// </summary>
    public async Task<int> StopAsync(TimeSpan timeout)
    {
        if (!Process.HasExited)
        {
            using var kill = Process.Start("kill", ["-TERM", Process.Id.ToString()])
                             ?? throw new InvalidOperationException("could not run kill");
            await kill.WaitForExitAsync();
        }

        try
        {
            return await WaitForExitAsync(timeout);
        }
        catch (TimeoutException)
        {
            Kill();
            return await WaitForExitAsync(TimeSpan.FromSeconds(10));
        }
    }

    /// <summary>SIGKILL: the node dies at once, without leaving the cluster.</summary>
    public void Kill()
    {
        if (!Process.HasExited) Process.Kill(); // SIGKILL on Unix; the server has no child processes
    }

    /// <summary>SIGSTOP: the process stops where it is, sockets open, until <see cref="Resume"/> (a long GC, a VM
    /// migration, an overloaded host, as its peers see it).</summary>
    public void Pause() => Signal(SigStop);

    /// <summary>SIGCONT after <see cref="Pause"/>.</summary>
    public void Resume() => Signal(SigCont);

    private const int SigCont = 18; // Linux x86-64 and arm64
    private const int SigStop = 19;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);

    private void Signal(int signal)
    {
        if (SendSignal(Process.Id, signal) != 0)
            throw new InvalidOperationException($"kill({Process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>The last <paramref name="count"/> lines, for failure messages and the test output.</summary>
    public string Tail(int count = 60)
    {
        lock (_gate) return string.Join('\n', _lines.Skip(Math.Max(0, _lines.Count - count)).Select(l => $"  {Name}| {l}"));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            Kill(); // SIGKILL ends a paused process too

            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await Process.WaitForExitAsync(exit.Token);
            await _readers.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException or InvalidOperationException)
        {
            // Best effort: nothing more can be done about a process that does not die on SIGKILL.
        }
        finally
        {
            Process.Dispose();
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the next line is read or the output ends.</summary>
    private Task NextOutput()
    {
        lock (_gate) return Task.WhenAny(_lineRead.Task, _readers);
    }

    private string? FirstLine(Func<string, bool> match)
    {
        lock (_gate) return _lines.FirstOrDefault(match);
    }

    private async Task<string> ExitCodeTextAsync()
    {
        // Its output ended; the exit itself may be a moment behind.
        using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await Process.WaitForExitAsync(exit.Token);
            return $"exit code {Process.ExitCode}";
        }
        catch (OperationCanceledException)
        {
            return "its output ended, the process still runs";
        }
    }

    private async Task Pump(StreamReader reader, string prefix)
    {
        try
        {
            while (await reader.ReadLineAsync() is { } line)
            {
                TaskCompletionSource read;
                lock (_gate)
                {
                    _lines.Add(prefix + line);
                    read = _lineRead;
                    _lineRead = NewSignal();
                }

                read.SetResult();
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The process is gone.
        }
    }
}
