using BenchmarkDotNet.Running;

namespace TcpStore.Akka.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project tests/TcpStore.Akka.Benchmarks -- [BenchmarkDotNet arguments]</c> runs the
/// micro-benchmarks (e.g. <c>--filter '*'</c>; every class uses <see cref="ShortConfig"/>).
/// <c>... -- idle --port P [--conns N]</c> is compare.sh's helper that holds validated idle connections open
/// (see <see cref="IdleConnections"/>).
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "idle")
            return await IdleConnections.RunAsync(args[1..]).ConfigureAwait(false);

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
