/** Renderer entry: pick the transport, wire it to the stores, render. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { startAuthPort } from './stores/auth';
import { startSession } from './stores/session';
import { createTransport } from './transport';
import { TransportContext } from './transport/context';
import './styles/tokens.css';
import './styles/base.css';
import './styles/overview.css';
import './styles/machine.css';

const { transport, auth } = createTransport();
startSession(transport);
// Sign-in, the same over IPC and in web mode; web mode connects once it knows whether a sign-in is needed first.
startAuthPort(auth);

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root');
createRoot(root).render(
  <StrictMode>
    <TransportContext.Provider value={transport}>
      <App />
    </TransportContext.Provider>
  </StrictMode>,
);
