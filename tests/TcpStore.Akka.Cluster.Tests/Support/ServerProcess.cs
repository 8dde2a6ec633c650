using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;

namespace TcpStore.Akka.Cluster.Tests.Support;

/// <summary>
/// The server (<c>tcpstore-server</c>) as a process, as a user starts it (adapted from TcpStore.Akka.Tests'
/// ServerProcess): both output streams are read on their own into a buffer, so that a test can wait for a log line
/// on any node at any time; every wait is bounded; <see cref="DisposeAsync"/> kills the process.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private static string ServerAssembly =>
        typeof(ServerProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "ServerAssembly").Value!;

    private readonly object _gate = new();
    private readonly List<string> _lines = [];
    private readonly Task _readers;

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

    /// <summary>Starts the server with <paramref name="args"/>; the TCPSTORE_* variables of this process are not passed on.</summary>
    public static ServerProcess Start(string name, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.GetFullPath(ServerAssembly));
        foreach (var arg in args) info.ArgumentList.Add(arg);
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("TCPSTORE_", StringComparison.Ordinal)).ToList())
            info.Environment.Remove(key);
        return new ServerProcess(name, Process.Start(info) ?? throw new InvalidOperationException("could not start the server"));
    }

    /// <summary>A copy of every line read so far (standard error's prefixed with <c>[stderr]</c>).</summary>
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
    /// when none comes within <paramref name="timeout"/> or the process exits first.
    /// </summary>
    public Task<string> WaitForLineAsync(string text, TimeSpan timeout) =>
        WaitForLineAsync(l => l.Contains(text, StringComparison.Ordinal), timeout, text);

    public Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout, string what) =>
        WaitForLineOnAnyAsync([this], match, timeout, what);

    /// <summary>
    /// The first line with <paramref name="text"/> on whichever of <paramref name="nodes"/> logs it; throws when none
    /// does within <paramref name="timeout"/> or one of them exits first.
    /// </summary>
    public static Task<string> WaitForLineOnAnyAsync(IReadOnlyCollection<ServerProcess> nodes, string text, TimeSpan timeout) =>
        WaitForLineOnAnyAsync(nodes, l => l.Contains(text, StringComparison.Ordinal), timeout, text);

    private static async Task<string> WaitForLineOnAnyAsync(
        IReadOnlyCollection<ServerProcess> nodes, Func<string, bool> match, TimeSpan timeout, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            foreach (var node in nodes)
            {
                if (node.FirstLine(match) is { } found) return found;
            }

            if (nodes.FirstOrDefault(n => n.Process.HasExited) is { } exited)
            {
                // Let the readers take the rest of the output first.
                await Task.WhenAny(exited._readers, Task.Delay(TimeSpan.FromSeconds(2)));
                if (exited.FirstLine(match) is { } late) return late;
                throw new InvalidOperationException(
                    $"node {exited.Name} exited ({exited.Process.ExitCode}) before a line with \"{what}\":\n{exited.Tail()}");
            }

            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"no line with \"{what}\" within {timeout.TotalSeconds:0} s on " +
                                           $"{string.Join(", ", nodes.Select(n => n.Name))}:\n" +
                                           string.Join('\n', nodes.Select(n => n.Tail(nodes.Count == 1 ? 60 : 20))));
            }

            await Task.Delay(50);
        }
    }

    private string? FirstLine(Func<string, bool> match)
    {
        lock (_gate) return _lines.FirstOrDefault(match);
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
            await Task.WhenAny(_readers, Task.Delay(TimeSpan.FromSeconds(5)));
        }
        catch (Exception e) when (e is OperationCanceledException or InvalidOperationException)
        {
            // Best effort: nothing more can be done about a process that does not die on SIGKILL.
        }
        finally
        {
            Process.Dispose();
        }
    }

    private async Task Pump(StreamReader reader, string prefix)
    {
        try
        {
            while (await reader.ReadLineAsync() is { } line)
                lock (_gate) _lines.Add(prefix + line);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The process is gone.
        }
    }
}
