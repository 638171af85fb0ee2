package vmm.core.device;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

class SwapGateTest {

    @Test
    void anOpenGateLetsAccessesThrough() {
        SwapGate g = new SwapGate(10);
        assertThat(g.enter()).isTrue();
        g.exit();
    }

    @Test
    void aClosedGateHoldsAnAccessUntilItOpens() throws Exception {
        SwapGate g = new SwapGate(5000);
        g.close();
        CompletableFuture<Boolean> access = CompletableFuture.supplyAsync(g::enter);
        Thread.sleep(50);
        assertThat(access).isNotDone();
        g.open();
        assertThat(access.get(5, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void aClosedGateGivesUpAfterItsBound() throws Exception {
        SwapGate g = new SwapGate(20);
        g.close();
        assertThat(CompletableFuture.supplyAsync(g::enter).get(5, TimeUnit.SECONDS)).isFalse();
        assertThat(g.timedOutAccesses()).isEqualTo(1);
    }

    @Test
    void closingWaitsForAccessesInProgress() throws Exception {
        SwapGate g = new SwapGate(5000);
        assertThat(g.enter()).isTrue();
        CompletableFuture<Void> closing = CompletableFuture.runAsync(g::close);
        Thread.sleep(50);
        assertThat(closing).isNotDone();
        g.exit();
        closing.get(5, TimeUnit.SECONDS);
        assertThat(g.isClosed()).isTrue();
    }

    @Test
    void theClosingThreadPassesAndAnotherThreadMayOpen() throws Exception {
        SwapGate g = new SwapGate(10);
        g.close();
        assertThat(g.enter()).isTrue();
        g.exit();
        CompletableFuture.runAsync(g::open).get(5, TimeUnit.SECONDS);
        assertThat(g.isClosed()).isFalse();
    }
}
