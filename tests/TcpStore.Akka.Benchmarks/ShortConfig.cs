using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using Perfolizer.Horology;

namespace TcpStore.Akka.Benchmarks;

/// <summary>
/// A short job for a shared 2-core machine: one process, 2 warm-up and 6 measured iterations of at least 250 ms, memory diagnoser.
/// Figures are indicative (a few % error at best); they are for comparing a change against its parent on the same
/// machine, not for absolute claims.
/// </summary>
public sealed class ShortConfig : ManualConfig
{
    public ShortConfig()
    {
        AddJob(Job.Default
            .WithLaunchCount(1)
            .WithWarmupCount(2)
            .WithIterationCount(6)
            .WithMinIterationTime(TimeInterval.FromMilliseconds(250))
            .WithId("Short"));
        AddDiagnoser(MemoryDiagnoser.Default);
    }
}
