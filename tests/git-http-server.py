#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
#
# A small smart-HTTP git server for the tests: Debian's git-http-backend run
# as a CGI program for every request, behind HTTP Basic auth, on 127.0.0.1.
#
#   git-http-server.py ROOT USER PASSWORD [CERT KEY]
#
# Serves the bare repositories under ROOT at http://127.0.0.1:PORT/<name>.git
# (https with the PEM certificate CERT and key KEY) and prints PORT on the
# first line of its output once it listens. A request without the right
# credentials gets 401 with a Basic challenge.

import base64
import http.server
import os
import ssl
import subprocess
import sys

BACKEND = '/usr/lib/git-core/git-http-backend'


def main():
    root, user, password = sys.argv[1:4]
    expected = 'Basic ' + base64.b64encode(f'{user}:{password}'.encode()).decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            sys.stderr.write('git-http-server: ' + (fmt % args) + '\n')

        def read_body(self):
            if self.headers.get('Transfer-Encoding', '').lower() == 'chunked':
                body = b''
                while True:
                    size = int(self.rfile.readline().split(b';')[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b'\r\n', b'\n', b''):
                            pass
                        return body
                    body += self.rfile.read(size)
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get('Content-Length') or 0))

        def answer(self, status, headers, body):
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header('Content-Length', str(len(body)))
            self.send_header('Connection', 'close')
            self.end_headers()
            self.wfile.write(body)

        def run(self):
            body = self.read_body()
            if self.headers.get('Authorization') != expected:
                self.answer(401, [('WWW-Authenticate', 'Basic realm="git"'),
                                  ('Content-Type', 'text/plain')], b'Authentication required\n')
                return
            path, _, query = self.path.partition('?')
            env = {
                'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
                'GIT_PROJECT_ROOT': root,
                'GIT_HTTP_EXPORT_ALL': '1',
                'REQUEST_METHOD': self.command,
                'PATH_INFO': path,
                'QUERY_STRING': query,
                'CONTENT_TYPE': self.headers.get('Content-Type', ''),
                'CONTENT_LENGTH': str(len(body)),
                'REMOTE_USER': user,
                'REMOTE_ADDR': '127.0.0.1',
                'SERVER_PROTOCOL': 'HTTP/1.1',
                'GATEWAY_INTERFACE': 'CGI/1.1',
            }
            if self.headers.get('Content-Encoding'):
                env['HTTP_CONTENT_ENCODING'] = self.headers['Content-Encoding']
            if self.headers.get('Git-Protocol'):
                env['GIT_PROTOCOL'] = self.headers['Git-Protocol']
            out = subprocess.run([BACKEND], input=body, env=env, stdout=subprocess.PIPE,
                                 check=False).stdout
            sep = out.find(b'\r\n\r\n')
            skip = 4
            if sep < 0:
                sep, skip = out.find(b'\n\n'), 2
            head, rest = out[:sep], out[sep + skip:]
            status, headers = 200, []
            for line in head.decode('latin-1').splitlines():
                name, _, value = line.partition(':')
                if name.lower() == 'status':
                    status = int(value.strip().split()[0])
                elif name:
                    headers.append((name, value.strip()))
            self.answer(status, headers, rest)

        do_GET = run
        do_POST = run

    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    if len(sys.argv) > 5:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[4], sys.argv[5])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == '__main__':
    main()
