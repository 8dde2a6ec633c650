using System.Diagnostics;
using System.Text.RegularExpressions;
using TcpStore.TestSupport;

namespace TcpStore.Akka.Tests.Server;

/// <summary>
/// The job-manager sample (src/TcpStore.Akka.Samples.JobManager), run as a user runs it: three jobs at once, each with
/// a store of its own on its own port, ranks meeting there through BARRIER, the stores gone when the jobs end.
/// </summary>
public sealed class JobManagerSampleTests
{
    [Fact]
    public async Task Three_jobs_each_get_their_own_store_and_leave_none_behind()
    {
        var sample = BuiltAssembly.PathOf(typeof(JobManagerSampleTests).Assembly, "JobManagerSampleAssembly");
        using var process = Process.Start(new ProcessStartInfo("dotnet")
        {
            ArgumentList = { sample, "--jobs", "3", "--world-size", "4" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var output = await process.StandardOutput.ReadToEndAsync(deadline.Token);
        var errors = await process.StandardError.ReadToEndAsync(deadline.Token);
        await process.WaitForExitAsync(deadline.Token);

        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}\n{output}\n{errors}");
        var jobs = Regex.Matches(output, @"job (\d): store job-\1 on 127\.0\.0\.1:(\d+), 4 ranks met, removed");
        Assert.Equal(3, jobs.Count);
        Assert.Equal(3, jobs.Select(j => j.Groups[2].Value).Distinct().Count()); // a port each
        Assert.Contains("stores left: 0", output);
    }
}
