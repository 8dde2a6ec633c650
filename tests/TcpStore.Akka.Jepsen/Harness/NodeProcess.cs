using System.Diagnostics;

namespace TcpStore.Akka.Jepsen.Harness;

/// <summary>
/// One <c>tcpstore-server</c> process in a node's network namespace (<c>ip netns exec</c> replaces itself with the
/// server, so the process id is the server's: signals reach it directly). Both output streams are pumped line by line
/// to <paramref name="onLine"/> with the time they were read; every wait is bounded; disposing kills it.
/// </summary>
public sealed class NodeProcess : IAsyncDisposable
{
    private readonly Task _pumps;

    private NodeProcess(Process process, Action<string> onLine)
    {
        Process = process;
        _pumps = Task.WhenAll(Pump(process.StandardOutput, "", onLine), Pump(process.StandardError, "[stderr] ", onLine));
    }

    public Process Process { get; }

    public int Pid => Process.Id;

    public bool HasExited => Process.HasExited;

    public static NodeProcess Start((string FileName, string[] Arguments) command, Action<string> onLine)
    {
        var info = new ProcessStartInfo(command.FileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in command.Arguments) info.ArgumentList.Add(argument);
        // The node reads its settings from its --config file only.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("TCPSTORE_", StringComparison.Ordinal)).ToList())
            info.Environment.Remove(key);
        return new NodeProcess(Process.Start(info) ?? throw new InvalidOperationException("could not start the node"), onLine);
    }

    public void Kill()
    {
        if (!Process.HasExited) Signals.Kill(Pid);
    }

    public void Pause()
    {
        if (!Process.HasExited) Signals.Stop(Pid);
    }

    public void Resume()
    {
        if (!Process.HasExited) Signals.Continue(Pid);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            Kill();
            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await Process.WaitForExitAsync(exit.Token);
            await Task.WhenAny(_pumps, Task.Delay(TimeSpan.FromSeconds(5)));
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

    private static async Task Pump(StreamReader reader, string prefix, Action<string> onLine)
    {
        try
        {
            while (await reader.ReadLineAsync() is { } line) onLine(prefix + line);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The process is gone.
        }
    }
}
