using System.Diagnostics;
using System.Reflection;

namespace TcpStore.Akka.Tests.Support;

/// <summary>The standalone server (<c>tcpstore-server</c>) as a process, as a user starts it; every wait is bounded.</summary>
public static class ServerProcess
{
    private static string ServerAssembly =>
        typeof(ServerProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "ServerAssembly").Value!;

    /// <summary>Starts the server with <paramref name="args"/>; the TCPSTORE_* variables of this process are not passed on.</summary>
    public static Process Start(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.GetFullPath(ServerAssembly));
        foreach (var arg in args) info.ArgumentList.Add(arg);
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("TCPSTORE_", StringComparison.Ordinal)).ToList())
            info.Environment.Remove(name);
        return Process.Start(info) ?? throw new InvalidOperationException("could not start the server");
    }

    /// <summary>Standard output up to and including the <c>READY &lt;port&gt;</c> line, and that port.</summary>
    public static async Task<(int Port, List<string> Output)> ReadUntilReadyAsync(Process server)
    {
        var output = new List<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await server.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            output.Add(line);
            if (line.StartsWith("READY ", StringComparison.Ordinal)) return (int.Parse(line[6..]), output);
        }

        throw new InvalidOperationException("server exited before READY: " + string.Join('\n', output) +
                                            await server.StandardError.ReadToEndAsync());
    }

    /// <summary>
    /// Reads on until a line of <paramref name="output"/> contains <paramref name="text"/> (at most 10 s): log lines
    /// are written by the console logger's own thread, so they may come after READY.
    /// </summary>
    public static async Task ReadUntilLoggedAsync(Process server, List<string> output, string text)
    {
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!output.Any(line => line.Contains(text, StringComparison.Ordinal)) &&
               await server.StandardOutput.ReadLineAsync(wait.Token) is { } line)
            output.Add(line);
    }

    /// <summary>SIGTERM, then waits for the exit (at most 30 s; killed after that).</summary>
    public static async Task StopAsync(Process server)
    {
        if (server.HasExited) return;
        Process.Start("kill", ["-TERM", server.Id.ToString()])!.WaitForExit();
        using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await server.WaitForExitAsync(exit.Token);
        }
        finally
        {
            if (!server.HasExited) server.Kill(entireProcessTree: true);
        }
    }
}
