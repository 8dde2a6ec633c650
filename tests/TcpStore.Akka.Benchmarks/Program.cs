using BenchmarkDotNet.Running;

namespace TcpStore.Akka.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project tests/TcpStore.Akka.Benchmarks -- [BenchmarkDotNet arguments]</c> runs the
/// micro-benchmarks (e.g. <c>--filter '*'</c>; every class uses <see cref="ShortConfig"/>).
/// <c>... -- idle --port P [--conns N]</c> is compare.sh's helper that holds validated idle connections open
/// (see <see cref="IdleConnections"/>); <c>... -- stall --port P --op listkeys|get|set</c> is its probe of how
/// long one heavy request holds up another client (<see cref="StallProbe"/>).
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "idle")
            return await IdleConnections.RunAsync(args[1..]).ConfigureAwait(false);
        if (args.Length > 0 && args[0] == "stall")
            return await StallProbe.RunAsync(args[1..]).ConfigureAwait(false);

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
